/* floor CGROUP N PROGRAM ARG...: the least a pod supervisor does, in C, for
 * the peer benchmark. It makes the pod's cgroup and one per process (cgroup
 * v2, or the memory, cpu and pids controllers of v1), new network, IPC and
 * UTS namespaces with loopback up, and starts N copies of PROGRAM (the
 * last argument gets "-<i>" appended), each placed in its cgroup before it
 * execs. On SIGTERM or SIGINT it TERMs them, reaps them, and removes the
 * cgroups. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *v1[] = {"memory", "cpu", "pids"};
static int v2;

static void die(const char *what) { perror(what); exit(1); }

static void cgdir(char *out, size_t n, const char *ctrl, const char *cg, int i) {
	if (v2)
		snprintf(out, n, i < 0 ? "/sys/fs/cgroup/%s" : "/sys/fs/cgroup/%s/p%d", cg, i);
	else
		snprintf(out, n, i < 0 ? "/sys/fs/cgroup/%s/%s" : "/sys/fs/cgroup/%s/%s/p%d", ctrl, cg, i);
	(void)ctrl;
}

static void each(const char *cg, int i, int mk) {
	char d[512];
	for (int c = 0; c < (v2 ? 1 : 3); c++) {
		cgdir(d, sizeof d, v1[c], cg, i);
		if (mk ? mkdir(d, 0755) && errno != EEXIST : rmdir(d) && errno != ENOENT)
			die(d);
	}
}

static void join(const char *cg, int i) {
	char d[512];
	for (int c = 0; c < (v2 ? 1 : 3); c++) {
		cgdir(d, sizeof d, v1[c], cg, i);
		strcat(d, "/cgroup.procs");
		int fd = open(d, O_WRONLY);
		if (fd < 0 || write(fd, "0", 1) != 1)
			die(d);
		close(fd);
	}
}

int main(int argc, char **argv) {
	if (argc < 4)
		return 2;
	const char *cg = argv[1];
	int n = atoi(argv[2]);
	v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	each(cg, -1, 1);
	if (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS))
		die("unshare");
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr)))
		die("lo");
	close(s);
	pid_t *pids = calloc(n, sizeof *pids);
	char **args = argv + 3;
	int last = argc - 4;
	char *base = args[last];
	for (int i = 0; i < n; i++) {
		each(cg, i, 1);
		char arg[4096];
		snprintf(arg, sizeof arg, "%s-%d", base, i);
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0) {
			sigprocmask(SIG_UNBLOCK, &set, NULL);
			join(cg, i);
			args[last] = arg;
			execv(args[0], args);
			die("exec");
		}
		pids[i] = p;
	}
	int sig;
	sigwait(&set, &sig);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	for (int i = 0; i < n; i++)
		each(cg, i, 0);
	each(cg, -1, 0);
	return 0;
}
