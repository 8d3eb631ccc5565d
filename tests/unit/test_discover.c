// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests for --all's selection rules (user/discover.c) and their options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "discover.h"

static struct proc_info proc(const char *comm, const char *exe, const char *cgroup)
{
	struct proc_info p;

	memset(&p, 0, sizeof(p));
	snprintf(p.comm, sizeof(p.comm), "%s", comm);
	snprintf(p.exe, sizeof(p.exe), "%s", exe);
	snprintf(p.cgroup, sizeof(p.cgroup), "%s", cgroup);
	return p;
}

static int parse(struct config *c, const char **args)
{
	int n = 0;
	char *argv[32];

	argv[n++] = "sonde";
	while (*args)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	config_init(c);
	optind = 0;
	return config_parse_args(c, n, argv, stderr);
}

static void test_no_rules_every_process(void **state)
{
	const char *args[] = { "--all", NULL };
	struct config c;
	struct discover *d;
	char err[128];
	struct proc_info nginx = proc("nginx", "/usr/sbin/nginx", "/system.slice/nginx.service"),
			 kthread = proc("kworker/0:1", "", "/");

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_true(c.all);
	d = discover__new(&c, err, sizeof(err));
	assert_non_null(d);
	assert_true(discover_match(d, &nginx));
	assert_false(discover_match(d, &kthread)); /* no executable: a kernel thread */
	discover__free(d);
	config_free(&c);
}

static void test_rules_or_and_exclude(void **state)
{
	const char *args[] = { "--all", "--match-comm", "^nginx$", "--match-exe", "/gunicorn$",
			       "--match-cgroup", "/kubepods/", "--exclude-comm", "^sh$",
			       "--match-port", "5432", NULL };
	uint16_t ports[4];
	struct config c;
	struct discover *d;
	char err[128];
	const char *pod = "/kubepods/burstable/pod1234/cri-containerd-abc.scope";

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(c.nselect, 5);
	d = discover__new(&c, err, sizeof(err));
	assert_non_null(d);
	assert_int_equal(discover_ports(d, ports, 4), 1);
	assert_int_equal(ports[0], 5432);
	struct proc_info yes[] = {
		proc("nginx", "/usr/sbin/nginx", "/system.slice/nginx.service"),
		proc("python3", "/srv/venv/bin/gunicorn", "/user.slice"),
		proc("redis-server", "/usr/bin/redis-server", pod),
		proc("redis-server", "/usr/bin/redis-server", "/kubepods"),
	};
	struct proc_info no[] = {
		proc("nginx-exporter", "/usr/bin/nginx-exporter", "/"), /* anchored regex */
		proc("python3", "/usr/bin/python3", "/user.slice"),
		proc("redis-server", "/usr/bin/redis-server", "/kubepods-extra/x"), /* not below */
		proc("sh", "/bin/sh", pod), /* excluded wins */
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(discover_match(d, &yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(discover_match(d, &no[i]));
	/* A process its port brought in: only --exclude-comm keeps it out. */
	assert_false(discover_excluded(d, &no[1]));
	assert_true(discover_excluded(d, &no[3]));
	discover__free(d);
	config_free(&c);
}

static void test_bad_rules(void **state)
{
	const char *bad_re[] = { "--all", "--match-comm", "(", NULL };
	const char *no_all[] = { "--pid", "1", "--match-comm", "x", NULL };
	const char *bad_cg[] = { "--all", "--match-cgroup", "kubepods", NULL };
	const char *bad_max[] = { "--all", "--max-services", "0", NULL };
	const char *bad_port[] = { "--all", "--match-port", "70000", NULL };
	const char *bad_port2[] = { "--all", "--match-port", "http", NULL };
	struct config c;
	char err[128];

	(void)state;
	assert_int_equal(parse(&c, bad_re), CONFIG_OK); /* compiled by discover__new */
	assert_null(discover__new(&c, err, sizeof(err)));
	assert_non_null(strstr(err, "regular expression"));
	config_free(&c);
	assert_int_equal(parse(&c, no_all), CONFIG_USAGE);
	assert_int_equal(parse(&c, bad_cg), CONFIG_USAGE);
	assert_int_equal(parse(&c, bad_max), CONFIG_USAGE);
	assert_int_equal(parse(&c, bad_port), CONFIG_USAGE);
	assert_int_equal(parse(&c, bad_port2), CONFIG_USAGE);
}

static void test_yaml(void **state)
{
	const char *args[] = { "--all", NULL };
	const char *cli[] = { "--all", "--match-comm", "^redis", "--max-services", "7", NULL };
	const char *y = "discovery:\n"
			"  match_comm: [\"^nginx$\", \"^gunicorn\"]\n"
			"  match_cgroup: [/kubepods]\n"
			"  exclude_comm: [\"^sh$\"]\n"
			"  match_port: [8080]\n"
			"  max_services: 40\n"
			"  kubelet_pods: /srv/kubelet/pods\n";
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_int_equal(c.nselect, 5);
	assert_int_equal(c.select[2].kind, CONFIG_MATCH_CGROUP);
	assert_int_equal(c.select[3].kind, CONFIG_EXCLUDE_COMM);
	assert_int_equal(c.select[4].kind, CONFIG_MATCH_PORT);
	assert_int_equal(c.max_services, 40);
	assert_string_equal(c.kubelet_pods, "/srv/kubelet/pods");
	config_free(&c);
	/* The command line's rules and limit win. */
	assert_int_equal(parse(&c, cli), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_int_equal(c.nselect, 1);
	assert_int_equal(c.max_services, 7);
	config_free(&c);
	const char *bad = "discovery:\n  match_pid: [1]\n";

	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_int_not_equal(config_load_yaml(&c, bad, strlen(bad), "t.yaml", err, sizeof(err)), 0);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_rules_every_process),
	    cmocka_unit_test(test_rules_or_and_exclude),
	    cmocka_unit_test(test_bad_rules),
	    cmocka_unit_test(test_yaml),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
