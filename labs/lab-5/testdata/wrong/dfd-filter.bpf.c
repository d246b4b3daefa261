//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* Known wrong: counts only the openat calls whose dfd is AT_FDCWD (as if
 * every name were relative to the working directory or absolute): opens
 * relative to a descriptor of a directory are never counted. */
#define OPEN_COUNTED(dfd, flags) ((dfd) == -100 /* AT_FDCWD */)
#include "wrong.h"
