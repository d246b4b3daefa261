//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: probes check_pin_admin, the function beside check_pin. */
#define ENTRY_SEC "uprobe/pinlock:check_pin_admin"
#define RETURN_SEC "uretprobe/pinlock:check_pin_admin"
#include "wrong.h"
