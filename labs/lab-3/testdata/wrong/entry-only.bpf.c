//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: sends the event from the uprobe, before the call has returned. */
#define REPORT_AT_ENTRY
#include "wrong.h"
