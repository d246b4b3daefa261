//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: clears id, quantity and length one by one instead of the
 * whole record: text keeps, after the string's NUL, whatever the ring
 * buffer held there (an older event's item or record, once the buffer has
 * gone round), which a reader of C strings never sees. */
#define ZERO(e) do { (e)->id = 0; (e)->quantity = 0; (e)->length = 0; } while (0)
#include "wrong.h"
