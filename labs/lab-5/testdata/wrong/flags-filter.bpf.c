//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: counts only the opens for reading (O_ACCMODE of the flags is
 * O_RDONLY): openat with O_WRONLY or O_RDWR is never counted. */
#define OPEN_COUNTED(dfd, flags) (((flags) & 3) == 0)
#include "wrong.h"
