/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_FUZZ_H
#define CONNPEAK_FUZZ_H

/*
 * Shared by the libFuzzer targets in tests/fuzz/. Each target links the
 * files of src/ it exercises directly and checks properties that an
 * independent reading of the input can predict; a broken property aborts,
 * which libFuzzer reports as a crash and saves the input.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_TEXT	4096

/* Abort with a message: libFuzzer keeps the input that got here. */
#define fuzz_check(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "property broken: " __VA_ARGS__); \
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

/* The input as a NUL-terminated string, cut at FUZZ_MAX_TEXT bytes. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *s;

	if (size > FUZZ_MAX_TEXT)
		size = FUZZ_MAX_TEXT;
	s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
