//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: declares the audit record's int length as 8 bits: a record
 * longer than 127 bytes gets a wrong length. */
#define AUDIT_ARGS const char *json, __s8 length
#include "wrong.h"
