// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_SAN demo program, run in the test box by tools/demo.  It grows
 * with the data path: today it shows the family in use and socket life
 * cycle; the client/server transfer and the comparison with TCP come with
 * the stream data path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/san.h>

static int read_family(void)
{
	FILE *f = fopen(SAN_FAMILY_SYSFS, "r");
	int fam = -1;

	if (f) {
		if (fscanf(f, "%d", &fam) != 1)
			fam = -1;
		fclose(f);
	}
	return fam;
}

int main(void)
{
	int fam = read_family(), fd, val;
	socklen_t len = sizeof(val);

	if (fam < 0) {
		fprintf(stderr, "san_demo: af_san is not loaded (%s)\n",
			SAN_FAMILY_SYSFS);
		return 1;
	}
	printf("af_san: socket family %d (uapi default %d)\n", fam, AF_SAN);

	fd = socket(fam, SOCK_STREAM, 0);
	if (fd < 0) {
		fprintf(stderr, "san_demo: socket: %s\n", strerror(errno));
		return 1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) == 0)
		printf("socket(%d, SOCK_STREAM, 0) = fd %d, SO_DOMAIN %d\n",
		       fam, fd, val);
	if (socket(fam, SOCK_DGRAM, 0) < 0)
		printf("socket(%d, SOCK_DGRAM, 0): %s (streams only)\n",
		       fam, strerror(errno));
	close(fd);
	return 0;
}
