// SPDX-License-Identifier: GPL-2.0
/*
 * Two-host keepalive check (tools/check runs it on the guest pair):
 *
 *   san_ka_peer server ADDR PORT       accept one connection, print
 *                                      "accepted", then hold it
 *   san_ka_peer client ADDR PORT IDLE  connect with SO_KEEPALIVE and
 *                                      SAN_KEEPIDLE=IDLE, block in recv()
 *
 * The server's host then cuts its link: the client's recv() must fail with
 * ETIMEDOUT (a dead idle peer is noticed), or on iWARP (SAN_KA_RESET=1)
 * also ECONNRESET, how the device reports its TCP connection's failure.
 * The client exits 0 only then.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "san_util.h"

int main(int argc, char **argv)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fam = san_family(), fd, one = 1, i;
	struct timespec t0, t1;
	char c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4 || fam < 0 || inet_pton(AF_INET, argv[2], &in.sin_addr) != 1)
		return 2;
	in.sin_port = htons(atoi(argv[3]));
	if (!strcmp(argv[1], "server")) {
		int l = socket(fam, SOCK_STREAM, 0);

		if (bind(l, (struct sockaddr *)&in, sizeof(in)) || listen(l, 1))
			return 1;
		fd = accept(l, NULL, NULL);
		if (fd < 0)
			return 1;
		printf("accepted\n");
		pause();
		return 0;
	}
	if (argc < 5)
		return 2;
	for (i = 0; i < 100; i++) {
		fd = socket(fam, SOCK_STREAM, 0);
		san_rdma_only(fd);
		if (!connect(fd, (struct sockaddr *)&in, sizeof(in)))
			break;
		close(fd);
		fd = -1;
		usleep(200000);
	}
	if (fd < 0) {
		perror("connect");
		return 1;
	}
	int idle = atoi(argv[4]), err;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SAN, SAN_KEEPIDLE, &idle, sizeof(idle))) {
		perror("setsockopt");
		return 1;
	}
	printf("connected, keepalive every %d s\n", idle);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (recv(fd, &c, 1, 0) >= 0) {
		printf("recv returned data or EOF: the peer is not dead\n");
		return 1;
	}
	err = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("recv: %s after %ld s\n", strerror(err),
	       (long)(t1.tv_sec - t0.tv_sec));
	if (err == ECONNRESET && getenv("SAN_KA_RESET"))
		return 0;
	return err == ETIMEDOUT ? 0 : 1;
}
