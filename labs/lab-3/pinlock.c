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
 * of the grader's plan, on the threads the plan names, and places some of
 * them the way real callers do (see trigger_call). */
#include "bpflab_trigger.h"
#include <sys/mman.h>
#include <time.h>

static unsigned int secret;

/* The CPU a call moves to while it waits (see trigger_call), or -1. */
static __thread int move_to = -1;

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* derive turns a user name into its PIN, slowly, as a password hash is
 * slow on purpose: calls from several threads overlap. */
static int derive(const char *user, unsigned int salt)
{
	unsigned int h = secret ^ salt;
	struct timespec ts = {0, 5 * 1000 * 1000};

	for (const char *p = user; *p; p++)
		h = h * 31 + (unsigned char)*p;
	/* A thread that waits may wake on another CPU: the grader has some
	 * calls moved while they wait, so that they surely do. */
	if (move_to >= 0)
		pin_to(move_to);
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

/* at_page_end copies user into a mapping of its own, so that its NUL is
 * the last byte before a page that is not mapped (as a name at the end of
 * a buffer may be): a read of a fixed size from it faults, a read of the
 * string does not. Writing it brings its page in. */
static char *at_page_end(const char *user, char **map, size_t *len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = strlen(user) + 1;
	char *m = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (m == MAP_FAILED || mprotect(m + page, page, PROT_NONE) != 0)
		trigger_fail("mapping a name at a page's end: %s", strerror(errno));
	*map = m;
	*len = 2 * page;
	return memcpy(m + page - n, user, n);
}

/* trigger_call makes one call of the grader's plan:
 * "call FUNCTION USER-IN-HEX PIN SECRET [HOW]". The user is in a buffer of
 * its own, which check_pin wipes. HOW, "-" or letters, places the call:
 *   e  the user ends right before an unmapped page (at_page_end);
 *   m  the call starts on one CPU and returns on another: the thread is
 *      bound to the CPU it is on, and check_pin, while it waits, binds it
 *      to the other one (the kernel moves a thread at once when its own
 *      CPU leaves its mask), so the uretprobe runs on another CPU than the
 *      uprobe, every time. The note says which CPUs ("cpu0-cpu1"), for
 *      the grader to check; the thread may run anywhere afterwards. */
int trigger_call(int argc, char **argv)
{
	static __thread char note[32];
	char user[128], *u = user, *map = NULL;
	size_t n = 0, maplen = 0;
	const char *h, *how = argc > 5 ? argv[5] : "-";
	int from = -1, ret;
	cpu_set_t all;

	if ((argc != 5 && argc != 6) || strcmp(argv[0], "call") != 0 || argv[2][0] != 'x') {
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
	if (strchr(how, 'e'))
		u = at_page_end(user, &map, &maplen);
	if (strchr(how, 'm') && sched_getaffinity(0, sizeof(all), &all) == 0) {
		from = sched_getcpu();
		if (from >= 0 && pin_to(from) == 0) {
			/* The other CPU: the next one the thread may run on. */
			for (int i = 1; i < CPU_SETSIZE; i++) {
				if (CPU_ISSET((from + i) % CPU_SETSIZE, &all)) {
					move_to = (from + i) % CPU_SETSIZE;
					break;
				}
			}
		}
	}
	if (strcmp(argv[1], "check_pin_admin") == 0)
		ret = check_pin_admin(u, atoi(argv[3]));
	else
		ret = check_pin(u, atoi(argv[3]));
	if (from >= 0) {
		snprintf(note, sizeof(note), "cpu%d-cpu%d", from, sched_getcpu());
		trigger_note = note;
		move_to = -1;
		sched_setaffinity(0, sizeof(all), &all);
	}
	if (map)
		munmap(map, maplen);
	return ret;
}

int main(void)
{
	return trigger_main();
}
