//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: probes check_pin in pinlock-legacy, another program. */
#define ENTRY_SEC "uprobe/pinlock-legacy:check_pin"
#define RETURN_SEC "uretprobe/pinlock-legacy:check_pin"
#include "wrong.h"
