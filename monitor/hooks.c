// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "monitor/hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor/log.h"

extern char **environ;

#define MS 1000000ULL
#define KILL_GRACE_NS (1000 * MS)    /* SIGTERM, then SIGKILL this much later */

struct hook_run {
	pid_t pid;                      /* 0: free slot */
	uint64_t deadline_ns;
	bool termed;                    /* SIGTERM sent, SIGKILL at deadline */
	char what[96];                  /* "isp1 online -> down", for the log */
	char path[256];                 /* as configured when it started */
	uint32_t timeout_ms;
};

struct hooks {
	char path[256];
	uint32_t timeout_ms;
	struct hook_run run[HOOKS_MAX_RUNNING];
	struct hook_counts c;
};

struct hooks *hooks_new(void)
{
	struct hooks *h = calloc(1, sizeof(*h));

	if (h)
		h->timeout_ms = 10000;
	return h;
}

void hooks_free(struct hooks *h)
{
	free(h);
}

void hooks_configure(struct hooks *h, const char *path, uint32_t timeout_ms)
{
	if (!h)
		return;
	snprintf(h->path, sizeof(h->path), "%s", path ? path : "");
	h->timeout_ms = timeout_ms ? timeout_ms : 10000;
}

/* The agent's environment without XWAN_* (ours replace them), then ours. */
static char **hook_env(char vars[][320], int n_vars)
{
	int n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc((size_t)(n + n_vars + 1), sizeof(*env));
	if (!env)
		return NULL;
	for (int i = 0; i < n; i++)
		if (strncmp(environ[i], "XWAN_", 5))
			env[k++] = environ[i];
	for (int i = 0; i < n_vars; i++)
		env[k++] = vars[i];
	return env;
}

static struct hook_run *free_slot(struct hooks *h)
{
	for (int i = 0; i < HOOKS_MAX_RUNNING; i++)
		if (!h->run[i].pid)
			return &h->run[i];
	return NULL;
}

void hooks_gateway_change(struct hooks *h, const struct hook_gateway_event *e, uint64_t now_ns)
{
	char vars[7][320], *argv[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	struct hook_run *r;
	char **env;
	pid_t pid;
	int rc;

	if (!h || !h->path[0])
		return;
	r = free_slot(h);
	if (!r) {
		h->c.skipped++;
		agent_log("hook %s skipped for %s %s -> %s: %d hooks still running", h->path,
			  e->gateway, e->old_status, e->new_status, HOOKS_MAX_RUNNING);
		return;
	}
	snprintf(vars[0], sizeof(vars[0]), "XWAN_EVENT=gateway_change");
	snprintf(vars[1], sizeof(vars[1]), "XWAN_GATEWAY=%s", e->gateway);
	snprintf(vars[2], sizeof(vars[2]), "XWAN_INTERFACE=%s", e->interface);
	snprintf(vars[3], sizeof(vars[3]), "XWAN_OLD_STATUS=%s", e->old_status);
	snprintf(vars[4], sizeof(vars[4]), "XWAN_NEW_STATUS=%s", e->new_status);
	snprintf(vars[5], sizeof(vars[5]), "XWAN_REASON=%s", e->reason);
	/* Each family of a WAN changes on its own (issue 13). */
	snprintf(vars[6], sizeof(vars[6]), "XWAN_FAMILY=%s", e->family ? e->family : "ipv4");
	env = hook_env(vars, 7);
	if (!env) {
		h->c.failed++;
		agent_log("hook %s: out of memory", h->path);
		return;
	}
	argv[0] = h->path;
	argv[1] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&at);
	/* Its own group, so a timeout kills what it started too; default signals. */
	posix_spawnattr_setpgroup(&at, 0);
	{
		sigset_t none, all;

		sigemptyset(&none);
		sigfillset(&all);
		posix_spawnattr_setsigmask(&at, &none);
		posix_spawnattr_setsigdefault(&at, &all);
	}
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
				 POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, h->path, &fa, &at, argv, env);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	free(env);
	if (rc) {
		h->c.failed++;
		agent_log("hook %s cannot start: %s", h->path, strerror(rc));
		return;
	}
	r->pid = pid;
	r->termed = false;
	r->deadline_ns = now_ns + (uint64_t)h->timeout_ms * MS;
	r->timeout_ms = h->timeout_ms;
	_Static_assert(sizeof(r->path) == sizeof(h->path), "a run keeps the whole path");
	memcpy(r->path, h->path, sizeof(r->path));
	snprintf(r->what, sizeof(r->what), "%s%s %s -> %s", e->gateway,
		 e->family && strcmp(e->family, "ipv4") ? " (ipv6)" : "", e->old_status,
		 e->new_status);
}

static void reaped(struct hooks *h, struct hook_run *r, int status)
{
	if (r->termed) {
		h->c.timed_out++;
		agent_log("hook %s (%s, pid %d) overran its timeout of %u ms: killed", r->path,
			  r->what, (int)r->pid, r->timeout_ms);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		h->c.ok++;
	} else if (WIFEXITED(status)) {
		h->c.failed++;
		agent_log("hook %s (%s) failed: exit status %d", r->path, r->what,
			  WEXITSTATUS(status));
	} else {
		h->c.failed++;
		agent_log("hook %s (%s) died of signal %d", r->path, r->what,
			  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	r->pid = 0;
}

uint64_t hooks_tick(struct hooks *h, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	if (!h)
		return next;
	for (int i = 0; i < HOOKS_MAX_RUNNING; i++) {
		struct hook_run *r = &h->run[i];
		int status;
		pid_t p;

		if (!r->pid)
			continue;
		p = waitpid(r->pid, &status, WNOHANG);
		if (p == r->pid || (p < 0 && errno == ECHILD)) {
			reaped(h, r, p == r->pid ? status : 0);
			continue;
		}
		if (now_ns >= r->deadline_ns) {
			/* The whole group: a script's children go with it. */
			kill(-r->pid, r->termed ? SIGKILL : SIGTERM);
			if (!r->termed) {
				r->termed = true;
				r->deadline_ns = now_ns + KILL_GRACE_NS;
			} else {
				r->deadline_ns = now_ns + 100 * MS;     /* reap it soon */
			}
		}
		if (r->deadline_ns < next)
			next = r->deadline_ns;
	}
	return next;
}

void hooks_counts(const struct hooks *h, struct hook_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (h)
		*out = h->c;
}
