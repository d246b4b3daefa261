//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: drops orders of quantity 0, as if nothing were ordered. */
#define DROP(copied, quantity) ((void)(copied), (quantity) == 0)
#include "wrong.h"
