//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: keeps the pin in 16 bits, as if PINs were 4 digits: a
 * caller passes any int. */
#define PIN_TYPE __s16
#include "wrong.h"
