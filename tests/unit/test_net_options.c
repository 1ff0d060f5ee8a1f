/* `cellvm run --net`, --name and --uuid (tools/cellvm/net_options.c,
 * run_options.c) and the adapters' MACs (tools/cellvm/net_mac.c): the
 * derived default MAC is stable, distinct per adapter and VM, locally
 * administered unicast, and pinned to its documented formula; the option
 * parser splits mac= and model= from the backend's spec and refuses what
 * it must, naming the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tools/cellvm/net_mac.h"
#include "tools/cellvm/supervisor.h"

static struct vm_config cfg;
static char err[512];

/* Parses `cellvm run --kernel k ARGS...` (NULL-terminated) into cfg. */
static int parse(const char *first, ...)
{
	char *argv[64] = {"run", "--kernel", "k"};
	int argc = 3;
	va_list ap;
	va_start(ap, first);
	for (const char *a = first; a; a = va_arg(ap, const char *)) {
		assert_true(argc < 63);
		argv[argc++] = (char *)a;
	}
	va_end(ap);
	err[0] = 0;
	return run_options_parse(argc, argv, &cfg, err, sizeof(err));
}

static void assert_refused(int rc, const char *want)
{
	assert_int_equal(rc, -1);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void mac_is(const uint8_t *mac, const char *want)
{
	char s[NET_MAC_STR];
	assert_string_equal(net_mac_format(mac, s), want);
}

static void test_derive_stable_and_distinct(void **st)
{
	(void)st;
	uint8_t a[6], b[6], c[6], d[6];
	net_mac_derive("web1", 4, 0, a);
	net_mac_derive("web1", 4, 0, b);
	assert_memory_equal(a, b, 6);
	net_mac_derive("web1", 4, 1, c);
	assert_memory_not_equal(a, c, 6);
	net_mac_derive("web2", 4, 0, d);
	assert_memory_not_equal(a, d, 6);
	/* All 15 adapters of a VM differ. */
	uint8_t all[VM_MAX_NETS][6];
	for (unsigned i = 0; i < VM_MAX_NETS; i++) {
		net_mac_derive("db", 2, i, all[i]);
		for (unsigned j = 0; j < i; j++)
			assert_memory_not_equal(all[i], all[j], 6);
	}
}

static void test_derive_bits(void **st)
{
	(void)st;
	for (unsigned i = 0; i < 256; i++) {
		uint8_t mac[6], key[2] = {(uint8_t)i, (uint8_t)(i * 7)};
		net_mac_derive(key, sizeof(key), i % VM_MAX_NETS, mac);
		assert_int_equal(mac[0], 0x52);
		assert_true(mac[0] & 2);	/* locally administered */
		assert_false(mac[0] & 1);	/* unicast */
		assert_false(net_mac_is_multicast(mac));
		assert_false(net_mac_is_zero(mac));
	}
}

/* The formula of docs/network.md, worked out by hand (a Python FNV-1a):
 * changing it would change every VM's MACs. */
static void test_derive_formula(void **st)
{
	(void)st;
	uint8_t mac[6], uuid[16];
	net_mac_derive("web1", 4, 0, mac);
	mac_is(mac, "52:2e:09:0b:2c:c0");
	net_mac_derive("web1", 4, 1, mac);
	mac_is(mac, "52:2e:09:0b:2e:73");
	for (unsigned i = 0; i < 16; i++)
		uuid[i] = (uint8_t)i;
	net_mac_derive(uuid, 16, 3, mac);
	mac_is(mac, "52:47:17:26:dd:82");
}

static void test_mac_parse(void **st)
{
	(void)st;
	uint8_t mac[6];
	assert_int_equal(net_mac_parse("52:54:00:aB:Cd:eF", mac), 0);
	mac_is(mac, "52:54:00:ab:cd:ef");
	const char *bad[] = {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "525400123456",
			     "52-54-00-12-34-56", "52:54:00:12:34:5g", "52:54:00:12:34:5",
			     "52:54:00:12:34:567", " 52:54:00:12:34:5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (net_mac_parse(bad[i], mac) == 0)
			fail_msg("'%s' parsed as a MAC", bad[i]);
}

static void test_parse_specs(void **st)
{
	(void)st;
	assert_int_equal(parse("--net", "tap=t0,mac=52:54:00:12:34:56,model=virtio",
			       "--net", "bridge=br0,mac=52:54:00:12:34:57,ifname=vm1",
			       "--net", "model=virtio,stream=/tmp/s,server", NULL), 0);
	assert_int_equal(cfg.nnets, 3);
	assert_int_equal(cfg.nets[0].backend.kind, NET_BACKEND_TAP);
	assert_string_equal(cfg.nets[0].backend.ifname, "t0");
	assert_true(cfg.nets[0].mac_given);
	mac_is(cfg.nets[0].mac, "52:54:00:12:34:56");
	assert_int_equal(cfg.nets[1].backend.kind, NET_BACKEND_BRIDGE);
	assert_string_equal(cfg.nets[1].backend.bridge, "br0");
	assert_string_equal(cfg.nets[1].backend.ifname, "vm1");
	mac_is(cfg.nets[1].mac, "52:54:00:12:34:57");
	assert_int_equal(cfg.nets[2].backend.kind, NET_BACKEND_STREAM);
	assert_string_equal(cfg.nets[2].backend.path, "/tmp/s");
	assert_true(cfg.nets[2].backend.server);
	assert_false(cfg.nets[2].mac_given);
	assert_string_equal(cfg.nets[2].spec, "model=virtio,stream=/tmp/s,server");

	assert_int_equal(parse(NULL), 0);
	assert_int_equal(cfg.nnets, 0);
}

static void test_default_macs(void **st)
{
	(void)st;
	uint8_t want[6];
	/* By name... */
	assert_int_equal(parse("--net", "tap=a", "--name", "web1", "--net", "tap=b", NULL), 0);
	mac_is(cfg.nets[0].mac, "52:2e:09:0b:2c:c0");
	mac_is(cfg.nets[1].mac, "52:2e:09:0b:2e:73");
	/* ...the UUID first, whatever the order... */
	assert_int_equal(parse("--net", "tap=a", "--name", "web1", "--uuid",
			       "00010203-0405-0607-0809-0a0b0c0d0e0f", "--net", "tap=b", "--net",
			       "tap=c", "--net", "tap=d", NULL), 0);
	assert_true(cfg.uuid_given);
	mac_is(cfg.nets[3].mac, "52:47:17:26:dd:82");
	/* ...an explicit mac= is kept, the others still by index... */
	assert_int_equal(parse("--name", "web1", "--net", "tap=a,mac=02:00:00:00:00:01", "--net",
			       "tap=b", NULL), 0);
	mac_is(cfg.nets[0].mac, "02:00:00:00:00:01");
	mac_is(cfg.nets[1].mac, "52:2e:09:0b:2e:73");
	/* ...else a UUID made for the run: a different one each time. */
	assert_int_equal(parse("--net", "tap=a", NULL), 0);
	assert_false(cfg.uuid_given);
	net_mac_derive(cfg.uuid, 16, 0, want);
	assert_memory_equal(cfg.nets[0].mac, want, 6);
	uint8_t first[6];
	memcpy(first, cfg.nets[0].mac, 6);
	assert_int_equal(parse("--net", "tap=a", NULL), 0);
	assert_memory_not_equal(cfg.nets[0].mac, first, 6);
}

static void test_refusals(void **st)
{
	(void)st;
	assert_refused(parse("--net", "tap=t0,mac=zz", NULL),
		       "--net tap=t0,mac=zz: mac 'zz' is not six hex pairs");
	assert_refused(parse("--net", "tap=t0,mac=01:00:5e:00:00:01", NULL), "multicast");
	assert_refused(parse("--net", "tap=t0,mac=00:00:00:00:00:00", NULL), "all zero");
	assert_refused(parse("--net", "tap=t0,mac=52:00:00:00:00:01,mac=52:00:00:00:00:02", NULL),
		       "mac given twice");
	assert_refused(parse("--net", "tap=t0,model=e1000", NULL), "model 'e1000' is not offered");
	assert_refused(parse("--net", "vde=/tmp/x", NULL),
		       "--net vde=/tmp/x: network backend 'vde': unknown kind");
	assert_refused(parse("--net", "mac=52:00:00:00:00:01", NULL), "expected tap=NAME");
	assert_refused(parse("--net", "tap=t0,server", NULL), "unknown option 'server'");
	assert_refused(parse("--net", "tap=t0,mac=52:00:00:00:00:01", "--net",
			     "tap=t1,mac=52:00:00:00:00:01", NULL),
		       "mac 52:00:00:00:00:01 is also net0's");
	assert_refused(parse("--net", "tap=t0", "--net", "tap=t0", NULL), "the same backend as net0");
	assert_refused(parse("--net", "stream=/s,server", "--net", "stream=/s", NULL),
		       "the same backend as net0");
	assert_refused(parse("--uuid", "not-a-uuid", NULL), "--uuid not-a-uuid: not a UUID");
	assert_refused(parse("--name", "", NULL), "--name: empty");

	char *argv[3 + 2 * 16] = {"run", "--kernel", "k"};
	char names[16][16];
	for (int i = 0; i < 16; i++) {
		snprintf(names[i], sizeof(names[i]), "tap=t%d", i);
		argv[3 + 2 * i] = "--net";
		argv[4 + 2 * i] = names[i];
	}
	assert_int_equal(run_options_parse(3 + 2 * 15, argv, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.nnets, 15);
	assert_refused(run_options_parse(3 + 2 * 16, argv, &cfg, err, sizeof(err)),
		       "--net tap=t15: at most 15 network adapters");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_derive_stable_and_distinct),
		cmocka_unit_test(test_derive_bits),
		cmocka_unit_test(test_derive_formula),
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_parse_specs),
		cmocka_unit_test(test_default_macs),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
