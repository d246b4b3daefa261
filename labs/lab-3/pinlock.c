//go:build ignore
// SPDX-License-Identifier: GPL-2.0
/* pinlock: the program lab 3's probes watch. It checks PINs the way a
 * login service might: check_pin(user, pin) is 1 when pin is the user's
 * PIN, 0 when it is not, and -1 when there is no user; and, as such a
 * service wipes credentials once it has checked them, it wipes the user
 * name (the caller's buffer) before it returns. check_pin_admin has the
 * same signature and its own PINs. Built twice: pinlock, and
 * pinlock-legacy (-DLEGACY), an older build with its own check_pin.
 *
 * It is also the grader's trigger (bpflab_trigger.h): it makes the calls
 * of the grader's plan, on the threads the plan names. */
#include "bpflab_trigger.h"
#include <time.h>

static unsigned int secret;

/* derive turns a user name into its PIN, slowly, as a password hash is
 * slow on purpose: calls from several threads overlap. */
static int derive(const char *user, unsigned int salt)
{
	unsigned int h = secret ^ salt;
	struct timespec ts = {0, 5 * 1000 * 1000};

	for (const char *p = user; *p; p++)
		h = h * 31 + (unsigned char)*p;
	nanosleep(&ts, NULL);
	return (int)(h % 10000);
}

#ifdef LEGACY
#define SALT 0x1e6ac7u
#else
#define SALT 0u
#endif

/* check derives user's PIN and wipes the name: once check_pin has
 * returned, the caller's buffer holds nothing but zeros. */
static int check(char *user, int pin, unsigned int salt)
{
	int ok;

	if (!user[0])
		return -1;
	ok = derive(user, salt) == pin;
	explicit_bzero(user, strlen(user));
	return ok;
}

__attribute__((noinline, noclone)) int check_pin(char *user, int pin)
{
	return check(user, pin, SALT);
}

__attribute__((noinline, noclone)) int check_pin_admin(char *user, int pin)
{
	return check(user, pin, SALT ^ 0xad111u);
}

/* trigger_call makes one call of the grader's plan:
 * "call FUNCTION USER-IN-HEX PIN SECRET". The user is in a buffer of its
 * own, which check_pin wipes. */
int trigger_call(int argc, char **argv)
{
	char user[128];
	size_t n = 0;
	const char *h;

	if (argc != 5 || strcmp(argv[0], "call") != 0 || argv[2][0] != 'x') {
		fprintf(stderr, "pinlock: bad call in the plan\n");
		exit(2);
	}
	for (h = argv[2] + 1; h[0] && h[1] && n + 1 < sizeof(user); h += 2) {
		unsigned int b;

		sscanf(h, "%2x", &b);
		user[n++] = (char)b;
	}
	user[n] = 0;
	secret = (unsigned int)strtoul(argv[4], NULL, 10);
	if (strcmp(argv[1], "check_pin_admin") == 0)
		return check_pin_admin(user, atoi(argv[3]));
	return check_pin(user, atoi(argv[3]));
}

int main(void)
{
	return trigger_main();
}
