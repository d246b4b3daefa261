//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: puts the uretprobe on trigger_call, pinlock's caller of
 * check_pin, which returns check_pin's value: not check_pin's return. */
#define ENTRY_SEC "uprobe/pinlock:check_pin"
#define RETURN_SEC "uretprobe/pinlock:trigger_call"
#include "wrong.h"
