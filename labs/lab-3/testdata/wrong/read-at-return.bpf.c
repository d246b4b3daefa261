//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps the user pointer at the uprobe and copies the string
 * only in the uretprobe, once check_pin has wiped it. */
#define READ_AT_RETURN
#include "wrong.h"
