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

/* discovery.names: the first entry whose patterns all match names the process. */
static void test_names(void **state)
{
	const char *args[] = { "--all", "--k8s-labels", NULL };
	const char *y = "discovery:\n"
			"  kubernetes_api: https://10.96.0.1:443\n"
			"  kubernetes_token: /run/token\n"
			"  kubernetes_ca: /run/ca.crt\n"
			"  names:\n"
			"    - {name: shop-api, match_comm: \"^gunicorn\", match_cgroup: /system.slice/shop.service}\n"
			"    - {name: db, match_exe: \"^/usr/lib/postgresql/\"}\n"
			"    - {name: any-gunicorn, match_comm: \"^gunicorn\"}\n";
	struct proc_info in_unit = proc("gunicorn", "/usr/bin/python3.11", "/system.slice/shop.service");
	struct proc_info elsewhere = proc("gunicorn", "/usr/bin/python3.11", "/user.slice");
	struct proc_info pg = proc("postgres", "/usr/lib/postgresql/15/bin/postgres", "/");
	struct proc_info other = proc("nginx", "/usr/sbin/nginx", "/");
	struct discover *d;
	struct config c;
	char err[256];

	(void)state;
	assert_int_equal(parse(&c, args), CONFIG_OK);
	assert_true(c.k8s_labels);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.k8s_api, "https://10.96.0.1:443");
	assert_string_equal(c.k8s_token, "/run/token");
	assert_string_equal(c.k8s_ca, "/run/ca.crt");
	assert_int_equal(c.nnames, 3);
	assert_non_null(d = discover__new(&c, err, sizeof(err)));
	assert_string_equal(discover_name(d, &in_unit), "shop-api");
	assert_string_equal(discover_name(d, &elsewhere), "any-gunicorn");
	assert_string_equal(discover_name(d, &pg), "db");
	assert_null(discover_name(d, &other));
	discover__free(d);
	config_free(&c);

	static const char *const bad[] = {
		"discovery:\n  names: [{name: x}]\n",                        /* no pattern */
		"discovery:\n  names: [{match_comm: x}]\n",                  /* no name */
		"discovery:\n  names: [{name: x, match_comm: \"(\"}]\n",     /* bad regex */
		"discovery:\n  names: [{name: x, match_cgroup: relative}]\n", /* not a path */
		"discovery:\n  names: [{name: x, match_pid: 1}]\n",
		"discovery:\n  names: {name: x}\n",
		"discovery:\n  kubernetes_api: ftp://x\n",
		"discovery:\n  kubernetes_token: relative\n",
		"discovery:\n  k8s_labels: maybe\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&c, args), CONFIG_OK);
		assert_int_not_equal(config_load_yaml(&c, bad[i], strlen(bad[i]), "t.yaml", err, sizeof(err)), 0);
		config_free(&c);
	}
	/* --k8s-api on the command line wins; "none" turns the in-cluster one off. */
	const char *cli[] = { "--all", "--k8s-api", "none", NULL };
	const char *badcli[] = { "--all", "--k8s-api", "10.0.0.1", NULL };

	assert_int_equal(parse(&c, cli), CONFIG_OK);
	assert_int_equal(config_load_yaml(&c, y, strlen(y), "t.yaml", err, sizeof(err)), 0);
	assert_string_equal(c.k8s_api, "none");
	config_free(&c);
	assert_int_equal(parse(&c, badcli), CONFIG_USAGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_rules_every_process),
	    cmocka_unit_test(test_rules_or_and_exclude),
	    cmocka_unit_test(test_bad_rules),
	    cmocka_unit_test(test_yaml),
	    cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
