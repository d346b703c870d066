// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for the shell tests: open an AF_SAN socket by number.
 *
 *   san_probe socket FAMILY   create and close a SOCK_STREAM socket;
 *                             prints "ok" or the errno name, exits 0 on ok
 *   san_probe hold FAMILY     create one, print "held", keep it open until
 *                             stdin reaches EOF, then close it
 *   san_probe ipproto FAMILY  create and close socket(FAMILY, SOCK_STREAM,
 *                             IPPROTO_SAN) (FAMILY 2 or 10)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

static const char *errname(int e)
{
	switch (e) {
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case EINVAL: return "EINVAL";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	char buf[64];
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: %s socket|hold|ipproto FAMILY\n",
			argv[0]);
		return 2;
	}
	fd = socket(atoi(argv[2]), SOCK_STREAM,
		    strcmp(argv[1], "ipproto") ? 0 : 261 /* IPPROTO_SAN */);
	if (fd < 0) {
		printf("%s\n", errname(errno));
		return 1;
	}
	if (!strcmp(argv[1], "hold")) {
		printf("held\n");
		fflush(stdout);
		while (read(0, buf, sizeof(buf)) > 0)
			;
	} else {
		printf("ok\n");
	}
	return close(fd) ? 1 : 0;
}
