// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libunderstudy: see dp.h. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "addr.h"
#include "dp.h"
#include "maglev.h"
#include "netlink.h"
#include "understudy.skel.h"
#include "validate.h"

#define US_MAX_IFACES 5   /* n^3 + 2 n^2 mirror groups <= US_MAX_GROUPS */

/* A link this instance attached or took over: its fd is held for as long
 * as the instance lives, so that removing its pin does not detach XDP
 * (us_dp_check_links pins it again). */
struct us_link {
	char ifname[IF_NAMESIZE];
	enum us_role role;
	__u32 xdp_flags;
	int fd;
	bool created;           /* by this instance, not taken over from a pin */
};

struct us_dp {
	struct understudy_bpf *skel;
	char pin_root[PATH_MAX / 2];
	char err[512];
	int ncpu;
	struct us_link links[US_MAX_IFACES + 1];
	int nlinks;
};

static int fail(struct us_dp *dp, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct us_dp *dp, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dp->err, sizeof(dp->err), fmt, ap);
	va_end(ap);
	return err;
}

const char *us_dp_error(const struct us_dp *dp)
{
	return dp ? dp->err : "";
}

struct understudy_bpf *us_dp_skel(struct us_dp *dp)
{
	return dp->skel;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	(void)fmt;
	(void)args;
	return 0;
}

static int libbpf_stderr(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* A map pinned by an earlier run must have the size asked for: libbpf would
 * refuse it with a bare EINVAL. */
static int check_pinned_size(struct us_dp *dp, struct bpf_map *m, const char *key,
			     const struct us_dp_opts *opts)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dp->pin_root, bpf_map__name(m));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;       /* not pinned yet (or not ours to judge): the load decides */
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    info.max_entries != bpf_map__max_entries(m)) {
		err = -EEXIST;
		if (opts && opts->err && opts->errlen)
			snprintf(opts->err, opts->errlen,
				 "%s holds %u entries, the configuration asks for %u (%s): the "
				 "size of a pinned map cannot change under a running data plane. "
				 "Keep the old size, or stop understudyd, remove %s (the calls in "
				 "progress lose their machine) and start it again",
				 path, info.max_entries, bpf_map__max_entries(m), key, path);
	}
	close(fd);
	return err;
}

int us_dp_open(const struct us_dp_opts *opts, struct us_dp **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct us_dp *dp;
	char why[256];
	int err;

	*out = NULL;
	if (opts && opts->err && opts->errlen)
		opts->err[0] = 0;
	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	snprintf(dp->pin_root, sizeof(dp->pin_root), "%s",
		 opts && opts->pin_root ? opts->pin_root : US_PIN_ROOT);
	libbpf_set_print(opts && opts->verbose ? libbpf_stderr : libbpf_quiet);
	dp->ncpu = libbpf_num_possible_cpus();
	if (dp->ncpu <= 0) {
		err = dp->ncpu ? dp->ncpu : -EINVAL;
		goto out_free;
	}
	/* whoever can write in the pin root can detach XDP by removing a pin */
	err = us_secure_dir(dp->pin_root, why, sizeof(why));
	if (err) {
		if (opts && opts->err && opts->errlen)
			snprintf(opts->err, opts->errlen, "pin root %s %s", dp->pin_root, why);
		goto out_free;
	}
	oo.pin_root_path = dp->pin_root;
	dp->skel = understudy_bpf__open_opts(&oo);
	if (!dp->skel) {
		err = -errno;
		goto out_free;
	}
	if (opts && opts->calls_max)
		bpf_map__set_max_entries(dp->skel->maps.us_calls, opts->calls_max);
	if (opts && opts->txns_max)
		bpf_map__set_max_entries(dp->skel->maps.us_txns, opts->txns_max);
	if (opts && opts->dlgs_max)
		bpf_map__set_max_entries(dp->skel->maps.us_dlgs, opts->dlgs_max);
	err = check_pinned_size(dp, dp->skel->maps.us_calls, "daemon.max_calls", opts);
	if (!err)
		err = check_pinned_size(dp, dp->skel->maps.us_txns, "daemon.max_transactions", opts);
	if (!err)
		err = check_pinned_size(dp, dp->skel->maps.us_dlgs, "daemon.max_dialogs", opts);
	if (!err)
		err = understudy_bpf__load(dp->skel);
	if (err)
		goto out_destroy;
	*out = dp;
	return 0;

out_destroy:
	understudy_bpf__destroy(dp->skel);
out_free:
	free(dp);
	return err;
}

void us_dp_close(struct us_dp *dp)
{
	if (!dp)
		return;
	/* the pins keep the links: closing ours detaches nothing */
	for (int i = 0; i < dp->nlinks; i++)
		close(dp->links[i].fd);
	understudy_bpf__destroy(dp->skel);
	free(dp);
}

int us_dp_destroy_pins(const char *pin_root)
{
	char path[PATH_MAX];
	struct dirent *de;
	int err = 0;
	DIR *d;

	d = opendir(pin_root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_root, de->d_name);
		if (!strncmp(de->d_name, "link_", 5)) {
			int fd = bpf_obj_get(path);

			if (fd >= 0) {
				bpf_link_detach(fd);
				close(fd);
			}
		}
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(pin_root) && !err)
		err = -errno;
	return err;
}

/* ---- attach ------------------------------------------------------------ */

/* An interface's entry in us_fwd: frames sent there by one copy go through
 * the egress program too (see bpf/maps.bpf.h). */
static int fwd_add(struct us_dp *dp, __u32 ifindex)
{
	struct bpf_devmap_val v = { .ifindex = ifindex };

	v.bpf_prog.fd = bpf_program__fd(dp->skel->progs.us_egress);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_fwd), &ifindex, &v, 0))
		return -errno;
	return 0;
}


static const char *role_name(enum us_role role)
{
	return role == US_ROLE_CLIENT ? "client" : "machine";
}

static void link_path(struct us_dp *dp, char *buf, size_t cap, const char *ifname,
		      enum us_role role)
{
	snprintf(buf, cap, "%s/link_%s_%s", dp->pin_root, role_name(role), ifname);
}

static struct us_link *link_find(struct us_dp *dp, const char *ifname, enum us_role role)
{
	for (int i = 0; i < dp->nlinks; i++)
		if (dp->links[i].role == role && !strcmp(dp->links[i].ifname, ifname))
			return &dp->links[i];
	return NULL;
}

/* Hold fd as the link of (ifname, role), replacing one held before. */
static int link_keep(struct us_dp *dp, const char *ifname, enum us_role role, __u32 xdp_flags,
		     int fd, bool created)
{
	struct us_link *l = link_find(dp, ifname, role);

	if (!l) {
		if (dp->nlinks >= (int)(sizeof(dp->links) / sizeof(dp->links[0]))) {
			close(fd);
			return fail(dp, -ENOSPC, "interface %s: too many links", ifname);
		}
		l = &dp->links[dp->nlinks++];
		snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
		l->role = role;
	} else if (l->fd != fd) {
		close(l->fd);
	}
	l->xdp_flags = xdp_flags;
	l->fd = fd;
	l->created = created;
	return 0;
}

static void link_forget(struct us_dp *dp, struct us_link *l)
{
	close(l->fd);
	*l = dp->links[--dp->nlinks];
}

/* A new link of prog on ifindex, pinned at path: its fd, or a negative errno. */
static int link_new(struct us_dp *dp, struct bpf_program *prog, int ifindex, __u32 xdp_flags,
		    const char *ifname, enum us_role role, const char *path)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	int fd, err;

	lo.flags = xdp_flags;
	fd = bpf_link_create(bpf_program__fd(prog), ifindex, BPF_XDP, &lo);
	if (fd < 0)
		return fail(dp, fd, "interface %s: attaching the %s program failed: %s", ifname,
			    role_name(role), strerror(-fd));
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		bpf_link_detach(fd);
		close(fd);
		return fail(dp, err, "pinning %s: %s", path, strerror(-err));
	}
	return fd;
}

int us_dp_attach(struct us_dp *dp, const char *ifname, enum us_role role, __u32 xdp_flags)
{
	struct bpf_program *prog;
	char path[PATH_MAX];
	int ifindex, fd, err;

	dp->err[0] = 0;
	if (role != US_ROLE_CLIENT && role != US_ROLE_MACHINE)
		return fail(dp, -EINVAL, "unknown role %d", role);
	if (xdp_flags & ~(XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE))
		return fail(dp, -EINVAL, "xdp flags 0x%x: only skb or driver mode may be asked",
			    xdp_flags);
	if (strlen(ifname) >= IF_NAMESIZE)
		return fail(dp, -ENODEV, "interface %s: name too long", ifname);
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return fail(dp, -ENODEV, "interface %s: no such interface", ifname);
	err = fwd_add(dp, ifindex);
	if (err)
		return fail(dp, err, "interface %s: forwarding entry: %s", ifname, strerror(-err));
	prog = role == US_ROLE_CLIENT ? dp->skel->progs.us_client : dp->skel->progs.us_machine;
	link_path(dp, path, sizeof(path), ifname, role);

	/* a link pinned by an earlier run: swap the program in place, the
	 * interface never goes without one */
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_link_update(fd, bpf_program__fd(prog), NULL);
		if (!err)
			return link_keep(dp, ifname, role, xdp_flags, fd, false);
		close(fd);
		unlink(path);
	}
	fd = link_new(dp, prog, ifindex, xdp_flags, ifname, role, path);
	if (fd < 0)
		return fd;
	return link_keep(dp, ifname, role, xdp_flags, fd, true);
}

int us_dp_detach(struct us_dp *dp, const char *ifname, enum us_role role)
{
	struct us_link *l = link_find(dp, ifname, role);
	char path[PATH_MAX];
	int fd, err;

	dp->err[0] = 0;
	link_path(dp, path, sizeof(path), ifname, role);
	fd = l ? dup(l->fd) : bpf_obj_get(path);
	if (l)
		link_forget(dp, l);
	if (fd < 0)
		return fail(dp, -ENOENT, "interface %s: no %s program attached by understudy",
			    ifname, role_name(role));
	err = bpf_link_detach(fd);
	close(fd);
	unlink(path);
	return err;
}

int us_dp_detach_created(struct us_dp *dp)
{
	char path[PATH_MAX];
	int n = 0;

	for (int i = dp->nlinks - 1; i >= 0; i--) {
		struct us_link *l = &dp->links[i];

		if (!l->created)
			continue;
		link_path(dp, path, sizeof(path), l->ifname, l->role);
		bpf_link_detach(l->fd);
		unlink(path);
		link_forget(dp, l);
		n++;
	}
	return n;
}

/* The kernel's id of a link and the interface it is attached to (0 once
 * detached): 0, or a negative errno. */
static int link_info(int fd, __u32 *id, __u32 *ifindex)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	*id = info.id;
	*ifindex = info.type == BPF_LINK_TYPE_XDP ? info.xdp.ifindex : 0;
	return 0;
}

int us_dp_check_links(struct us_dp *dp, char *what, size_t len)
{
	size_t o = 0;
	int repaired = 0;

	dp->err[0] = 0;
	if (what && len)
		what[0] = 0;
	for (int i = 0; i < dp->nlinks; i++) {
		struct us_link *l = &dp->links[i];
		struct bpf_program *prog = l->role == US_ROLE_CLIENT ? dp->skel->progs.us_client :
				      dp->skel->progs.us_machine;
		char path[PATH_MAX];
		const char *done = NULL;
		__u32 id, ifindex, pid = 0, pif;
		int pfd, fd, err;

		link_path(dp, path, sizeof(path), l->ifname, l->role);
		err = link_info(l->fd, &id, &ifindex);
		if (err)
			return fail(dp, err, "link of %s: %s", l->ifname, strerror(-err));
		if (!ifindex) {
			/* detached (through its pin, before we held it, or by the
			 * interface going away): attach anew if the interface is there */
			int x = if_nametoindex(l->ifname);

			if (!x)
				continue;       /* gone: nothing to attach to */
			unlink(path);
			fd = link_new(dp, prog, x, l->xdp_flags, l->ifname, l->role, path);
			if (fd < 0)
				return fd;
			close(l->fd);
			l->fd = fd;
			done = "attached again";
		} else {
			pfd = bpf_obj_get(path);
			if (pfd >= 0) {
				if (link_info(pfd, &pid, &pif))
					pid = 0;
				close(pfd);
			}
			if (pid == id)
				continue;
			/* the pin is gone, or names something else: ours again */
			if (pfd >= 0 || errno != ENOENT)
				unlink(path);
			if (bpf_obj_pin(l->fd, path)) {
				err = -errno;
				return fail(dp, err, "pinning %s again: %s", path, strerror(-err));
			}
			done = "pinned again";
		}
		repaired++;
		if (what && len && o < len)
			o += (size_t)snprintf(what + o, len - o, "%s%s %s (%s)", o ? ", " : "",
					      role_name(l->role), l->ifname, done);
	}
	return repaired;
}

/* ---- mirror groups ------------------------------------------------------ */

/* A mirror group: a devmap of the copies' interfaces in group order
 * (active, simulation, control; c = 0: no control, s = 0: no simulation). */
static int group_add(struct us_dp *dp, __u32 a, __u32 s, __u32 c)
{
	struct us_group_key k = { .active_ifindex = a, .sim_ifindex = s, .ctl_ifindex = c };
	struct bpf_devmap_val v = { 0 };
	int inner, err = 0, egress = bpf_program__fd(dp->skel->progs.us_egress);
	__u32 ifs[US_SIDES] = { a, s, c }, n = 0;

	inner = bpf_map_create(BPF_MAP_TYPE_DEVMAP, "us_group", sizeof(__u32), sizeof(v), US_SIDES,
			       NULL);
	if (inner < 0)
		return inner;
	v.bpf_prog.fd = egress;
	for (__u32 i = 0; i < US_SIDES && !err; i++) {
		if (!ifs[i])
			continue;
		v.ifindex = ifs[i];
		err = bpf_map_update_elem(inner, &n, &v, 0);
		n++;
	}
	if (!err)
		err = bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_groups), &k, &inner, 0);
	close(inner);
	return err ? -errno : 0;
}

int us_dp_add_machine_iface(struct us_dp *dp, const char *ifname)
{
	int gfd = bpf_map__fd(dp->skel->maps.us_groups);
	__u32 ifs[US_MAX_IFACES], nif = 0, x;
	struct us_group_key k, next, *prev = NULL;
	int err = 0;

	dp->err[0] = 0;
	x = if_nametoindex(ifname);
	if (!x)
		return fail(dp, -ENODEV, "interface %s: no such interface", ifname);
	/* the interfaces declared so far are those in the groups' keys */
	while (!bpf_map_get_next_key(gfd, prev, &next)) {
		int seen = 0;

		for (__u32 i = 0; i < nif; i++)
			seen |= ifs[i] == next.active_ifindex;
		if (!seen && nif < US_MAX_IFACES)
			ifs[nif++] = next.active_ifindex;
		k = next;
		prev = &k;
	}
	{
		__u32 known = 0;

		for (__u32 i = 0; i < nif; i++)
			known |= ifs[i] == x;
		if (!known) {
			if (nif + 1 > US_MAX_IFACES)
				return fail(dp, -ENOSPC, "interface %s: at most %d machine interfaces",
					    ifname, US_MAX_IFACES);
			ifs[nif++] = x;
		}
	}
	/* every group involving x is (re)made (one map update each): after a
	 * restart the groups then carry this instance's egress program */
	err = fwd_add(dp, x);
	for (__u32 i = 0; i < nif && !err; i++) {
		for (__u32 j = 0; j < nif && !err; j++) {
			__u32 a = ifs[i], s = ifs[j];

			if (a == x || s == x) {
				err = group_add(dp, a, s, 0);
				if (!err)
					err = group_add(dp, a, 0, s);
			}
			for (__u32 l = 0; l < nif && !err; l++)
				if (a == x || s == x || ifs[l] == x)
					err = group_add(dp, a, s, ifs[l]);
		}
	}
	if (err)
		return fail(dp, err, "interface %s: creating mirror groups failed: %s", ifname,
			    strerror(-err));
	return 0;
}

/* ---- services ------------------------------------------------------------ */

static int svc_find(struct us_dp *dp, __u32 svc_id, struct us_svc_key *key, struct us_svc *val)
{
	int fd = bpf_map__fd(dp->skel->maps.us_services);
	struct us_svc_key k, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &k)) {
		struct us_svc v;

		if (!bpf_map_lookup_elem(fd, &k, &v) && v.id == svc_id) {
			if (key)
				*key = k;
			if (val)
				*val = v;
			return 0;
		}
		prev = &k;
	}
	return -ENOENT;
}

static int ports_sync(struct us_dp *dp)
{
	int sfd = bpf_map__fd(dp->skel->maps.us_services);
	int pfd = bpf_map__fd(dp->skel->maps.us_ports);
	static __u64 bits[1024];
	struct us_svc_key k, *prev = NULL;

	memset(bits, 0, sizeof(bits));
	while (!bpf_map_get_next_key(sfd, prev, &k)) {
		__u16 p = ntohs(k.port);

		bits[p >> 6] |= 1ull << (p & 63);
		prev = &k;
	}
	for (__u32 i = 0; i < 1024; i++) {
		__u64 cur = 0;

		if (bpf_map_lookup_elem(pfd, &i, &cur) || cur != bits[i])
			if (bpf_map_update_elem(pfd, &i, &bits[i], 0))
				return -errno;
	}
	return 0;
}

static void addr_str(int family, const __u8 *addr, char *buf, size_t cap)
{
	us_addr_format(family, addr, buf, cap);
}

static int check_family(struct us_dp *dp, const char *what, int family, const __u8 *addr)
{
	if (family != AF_INET && family != AF_INET6)
		return fail(dp, -EINVAL, "%s: address family %d is neither IPv4 nor IPv6", what,
			    family);
	if (family == AF_INET && !us_addr_v4mapped(addr))
		return fail(dp, -EINVAL, "%s: IPv4 address not in v4-mapped form", what);
	if (family == AF_INET6 && us_addr_v4mapped(addr))
		return fail(dp, -EINVAL, "%s: v4-mapped address given as IPv6", what);
	return 0;
}

int us_dp_set_service(struct us_dp *dp, __u32 svc_id, int family, const __u8 *addr,
		      __u16 port, __u16 share_bp)
{
	int fd = bpf_map__fd(dp->skel->maps.us_services);
	struct us_svc_key key = { 0 }, old_key;
	struct us_svc val = { 0 }, cur;
	char a[INET6_ADDRSTRLEN];
	int err;

	dp->err[0] = 0;
	if (svc_id >= US_MAX_SERVICES)
		return fail(dp, -EINVAL, "service %u: id out of range (0..%d)", svc_id,
			    US_MAX_SERVICES - 1);
	err = check_family(dp, "service", family, addr);
	if (err)
		return err;
	addr_str(family, addr, a, sizeof(a));
	if (port == 0)
		return fail(dp, -EINVAL, "service %u (%s): port 0 is not a service port", svc_id, a);
	if (share_bp > US_SHARE_MAX)
		return fail(dp, -ERANGE,
			    "service %u (%s:%u): mirror share %u out of range (0..%u basis points)",
			    svc_id, a, port, share_bp, US_SHARE_MAX);
	memcpy(key.addr, addr, 16);
	key.port = htons(port);
	key.proto = IPPROTO_UDP;
	if (!bpf_map_lookup_elem(fd, &key, &cur)) {
		if (cur.id != svc_id)
			return fail(dp, -EEXIST, "service %u: %s:%u already belongs to service %u",
				    svc_id, a, port, cur.id);
		val = cur;              /* keep its table generations */
	} else if (!svc_find(dp, svc_id, &old_key, &cur)) {
		return fail(dp, -EEXIST, "service %u: id already used by another VIP/port", svc_id);
	}
	val.id = svc_id;
	val.share_bp = share_bp;
	if (bpf_map_update_elem(fd, &key, &val, 0))
		return fail(dp, -errno, "service %u: map update failed: %s", svc_id,
			    strerror(errno));
	return ports_sync(dp);
}

int us_dp_list_services(struct us_dp *dp, struct us_dp_service *out, size_t cap)
{
	int fd = bpf_map__fd(dp->skel->maps.us_services);
	struct us_svc_key k, *prev = NULL;
	size_t n = 0;

	dp->err[0] = 0;
	while (!bpf_map_get_next_key(fd, prev, &k)) {
		struct us_svc v;

		if (!bpf_map_lookup_elem(fd, &k, &v)) {
			if (n == cap)
				return fail(dp, -ENOSPC, "more than %zu services", cap);
			out[n].family = us_addr_v4mapped(k.addr) ? AF_INET : AF_INET6;
			memcpy(out[n].addr, k.addr, 16);
			out[n].port = ntohs(k.port);
			out[n].id = v.id;
			n++;
		}
		prev = &k;
	}
	return (int)n;
}

int us_dp_stats_id(struct us_dp *dp, __u32 *id)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_map__fd(dp->skel->maps.us_mstats), &info, &len))
		return -errno;
	*id = info.id;
	return 0;
}

int us_dp_events_fd(struct us_dp *dp)
{
	return bpf_map__fd(dp->skel->maps.us_events);
}

int us_dp_set_share(struct us_dp *dp, __u32 svc_id, __u16 share_bp)
{
	struct us_svc_key key;
	struct us_svc val;

	dp->err[0] = 0;
	if (share_bp > US_SHARE_MAX)
		return fail(dp, -ERANGE, "service %u: mirror share %u out of range (0..%u basis points)",
			    svc_id, share_bp, US_SHARE_MAX);
	if (svc_find(dp, svc_id, &key, &val))
		return fail(dp, -ENOENT, "service %u: no such service", svc_id);
	val.share_bp = share_bp;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_services), &key, &val, BPF_EXIST))
		return -errno;
	return 0;
}

int us_dp_set_due(struct us_dp *dp, __u32 svc_id, __u32 floor_ms, __u16 mult)
{
	struct us_svc_key key;
	struct us_svc val;

	if (floor_ms < 1 || floor_ms > US_DUE_MAX_MS)
		return fail(dp, -ERANGE, "service %u: deadline floor %u ms out of range (1..%u)",
			    svc_id, floor_ms, US_DUE_MAX_MS);
	if (mult < 1 || mult > 1000)
		return fail(dp, -ERANGE, "service %u: deadline multiple %u out of range (1..1000)",
			    svc_id, mult);
	if (svc_find(dp, svc_id, &key, &val))
		return fail(dp, -ENOENT, "service %u: no such service", svc_id);
	val.due_floor_ms = floor_ms;
	val.due_mult = mult;
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_services), &key, &val, BPF_EXIST))
		return fail(dp, -errno, "service %u: map update failed: %s", svc_id, strerror(errno));
	return 0;
}

int us_dp_del_service(struct us_dp *dp, __u32 svc_id)
{
	struct us_svc_key key;

	dp->err[0] = 0;
	if (svc_find(dp, svc_id, &key, NULL))
		return fail(dp, -ENOENT, "service %u: no such service", svc_id);
	if (bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.us_services), &key))
		return -errno;
	return ports_sync(dp);
}

/* ---- machines ------------------------------------------------------------ */

const char *us_state_name(enum us_mstate s)
{
	static const char *const n[US_MS_MAX] = {
		[US_MS_UNUSED] = "unused",       [US_MS_ACTIVE] = "active",
		[US_MS_SIMULATION] = "simulation", [US_MS_DRAINING] = "draining",
		[US_MS_REJECTED] = "rejected",   [US_MS_REMOVED] = "removed",
		[US_MS_CONTROL] = "control",
	};

	return (unsigned)s < US_MS_MAX ? n[s] : "?";
}

static int rebuild(struct us_dp *dp, __u32 svc_id, enum us_pool pool, __u32 exclude);

static int machine_get(struct us_dp *dp, __u32 mid, struct us_machine *m)
{
	if (mid >= US_MAX_MACHINES)
		return -EINVAL;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.us_machines), &mid, m))
		return -errno;
	return 0;
}

/* The pool a state puts a machine's entries in, or -1. */
static int state_pool(__u8 state)
{
	switch (state) {
	case US_MS_ACTIVE:     return US_POOL_ACTIVE;
	case US_MS_SIMULATION: return US_POOL_SIM;
	case US_MS_CONTROL:    return US_POOL_CTL;
	default:               return -1;
	}
}

static const char *pool_name(enum us_pool pool)
{
	return pool == US_POOL_ACTIVE ? "active" : pool == US_POOL_SIM ? "simulation" : "control";
}

/* The generation of a pool's table in use. */
static __u8 *pool_gen(struct us_svc *v, enum us_pool pool)
{
	return pool == US_POOL_ACTIVE ? &v->active_gen :
	       pool == US_POOL_SIM ? &v->sim_gen : &v->ctl_gen;
}

/*
 * Write machine mid's entry and keep the tables true, in an order that
 * never lets a table name a machine in the wrong state: a pool the machine
 * leaves is rebuilt without it first; a pool it joins (or whose weight
 * changes) is rebuilt after the entry is written.
 */
static int machine_apply(struct us_dp *dp, __u32 mid, const struct us_machine *nw)
{
	int fd = bpf_map__fd(dp->skel->maps.us_machines);
	int op, np, err;
	struct us_machine old;

	if (machine_get(dp, mid, &old))
		memset(&old, 0, sizeof(old));
	op = state_pool(old.state);
	np = state_pool(nw->state);
	if (op >= 0 && (op != np || old.svc_id != nw->svc_id)) {
		err = rebuild(dp, old.svc_id, op, mid);
		if (err && err != -ENOENT)
			return err;
	}
	if (bpf_map_update_elem(fd, &mid, nw, 0))
		return fail(dp, -errno, "machine %u: map update failed: %s", mid, strerror(errno));
	if (np >= 0 && (np != op || old.svc_id != nw->svc_id || old.weight != nw->weight ||
			memcmp(old.addr, nw->addr, 16)))
		return rebuild(dp, nw->svc_id, np, US_MID_NONE);
	return 0;
}

int us_dp_set_machine(struct us_dp *dp, const struct us_machine_cfg *c)
{
	struct us_machine m = { 0 };
	char a[INET6_ADDRSTRLEN];
	int err;

	dp->err[0] = 0;
	if (c->id >= US_MAX_MACHINES)
		return fail(dp, -EINVAL, "machine %u: id out of range (0..%d)", c->id,
			    US_MAX_MACHINES - 1);
	err = check_family(dp, "machine", c->family, c->addr);
	if (err)
		return err;
	addr_str(c->family, c->addr, a, sizeof(a));
	if (c->weight == 0)
		return fail(dp, -ERANGE, "machine %u (%s): weight 0 out of range (1..%u)", c->id, a,
			    US_WEIGHT_MAX);
	if (c->state <= US_MS_UNUSED || c->state >= US_MS_MAX)
		return fail(dp, -EINVAL, "machine %u (%s): state %d unknown", c->id, a, c->state);
	{
		struct us_svc_key sk;

		if (svc_find(dp, c->svc_id, &sk, NULL))
			return fail(dp, -ENOENT, "machine %u (%s): service %u does not exist", c->id,
				    a, c->svc_id);
		if ((c->family == AF_INET) != us_addr_v4mapped(sk.addr))
			return fail(dp, -EINVAL,
				    "machine %u (%s): address family differs from service %u's VIP",
				    c->id, a, c->svc_id);
	}
	for (__u32 i = 0; i < US_MAX_MACHINES; i++) {
		struct us_machine o;

		if (i == c->id || machine_get(dp, i, &o) || o.state == US_MS_UNUSED ||
		    o.state == US_MS_REMOVED)
			continue;
		if (o.svc_id == c->svc_id && !memcmp(o.addr, c->addr, 16))
			return fail(dp, -EEXIST, "machine %u (%s): address already used by machine %u",
				    c->id, a, i);
	}
	memcpy(m.addr, c->addr, 16);
	m.svc_id = c->svc_id;
	m.state = c->state;
	m.family = c->family;
	m.weight = c->weight;
	return machine_apply(dp, c->id, &m);
}

int us_dp_set_state(struct us_dp *dp, __u32 mid, enum us_mstate state)
{
	struct us_machine m;

	dp->err[0] = 0;
	if (machine_get(dp, mid, &m) || m.state == US_MS_UNUSED)
		return fail(dp, -ENOENT, "machine %u: no such machine", mid);
	if (state <= US_MS_UNUSED || state >= US_MS_MAX)
		return fail(dp, -EINVAL, "machine %u: state %d unknown", mid, state);
	m.state = state;
	return machine_apply(dp, mid, &m);
}

static void macs_forget(struct us_dp *dp, __u32 mid, const struct us_mac_key *keep)
{
	int fd = bpf_map__fd(dp->skel->maps.us_macs);
	struct us_mac_key k, next, *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		__u32 v;

		k = next;
		if (!bpf_map_lookup_elem(fd, &k, &v) && v == mid &&
		    !(keep && !memcmp(keep, &k, sizeof(k)))) {
			bpf_map_delete_elem(fd, &k);
			prev = NULL;    /* restart: the iteration order changed */
			continue;
		}
		prev = &k;
	}
}

int us_dp_del_machine(struct us_dp *dp, __u32 mid)
{
	struct us_machine m = { 0 };
	int err;

	dp->err[0] = 0;
	if (mid >= US_MAX_MACHINES)
		return fail(dp, -EINVAL, "machine %u: id out of range", mid);
	err = machine_apply(dp, mid, &m);
	if (!err)
		macs_forget(dp, mid, NULL);
	return err;
}

/* Rebuild a pool's table; machine `exclude` (US_MID_NONE for none) is left
 * out whatever its state says, for a machine about to leave the pool. */
static int rebuild(struct us_dp *dp, __u32 svc_id, enum us_pool pool, __u32 exclude)
{
	static __u32 table[US_MAGLEV_SIZE], keys[US_MAGLEV_SIZE];
	struct us_maglev_backend be[US_MAX_MACHINES];
	int sfd = bpf_map__fd(dp->skel->maps.us_services);
	int tfd = bpf_map__fd(dp->skel->maps.us_maglev);
	enum us_mstate want = pool == US_POOL_ACTIVE ? US_MS_ACTIVE :
			      pool == US_POOL_SIM ? US_MS_SIMULATION : US_MS_CONTROL;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct us_svc_key key;
	struct us_svc val;
	__u32 n = 0, gen, count = US_MAGLEV_SIZE;
	int err;

	if (pool != US_POOL_ACTIVE && pool != US_POOL_SIM && pool != US_POOL_CTL)
		return fail(dp, -EINVAL, "pool %d unknown", pool);
	if (svc_find(dp, svc_id, &key, &val))
		return fail(dp, -ENOENT, "service %u: no such service", svc_id);
	for (__u32 i = 0; i < US_MAX_MACHINES; i++) {
		struct us_machine m;

		if (i == exclude || machine_get(dp, i, &m) || m.svc_id != svc_id || m.state != want)
			continue;
		be[n].key = us_maglev_key(m.addr);
		be[n].mid = i;
		be[n].weight = m.weight;
		n++;
	}
	err = us_maglev_build(be, n, table, US_MAGLEV_SIZE);
	if (err)
		return fail(dp, err, "service %u: building the %s table failed", svc_id,
			    pool_name(pool));
	gen = *pool_gen(&val, pool) ^ 1;
	for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
		keys[s] = us_maglev_index(svc_id, pool, gen, s);
	if (bpf_map_update_batch(tfd, keys, table, &count, &bo) || count != US_MAGLEV_SIZE) {
		/* older kernels: one by one */
		for (__u32 s = 0; s < US_MAGLEV_SIZE; s++)
			if (bpf_map_update_elem(tfd, &keys[s], &table[s], 0))
				return fail(dp, -errno, "service %u: writing the table failed: %s",
					    svc_id, strerror(errno));
	}
	/* the flip: one update of the service entry */
	*pool_gen(&val, pool) = gen;
	if (bpf_map_update_elem(sfd, &key, &val, BPF_EXIST))
		return fail(dp, -errno, "service %u: generation flip failed: %s", svc_id,
			    strerror(errno));
	return 0;
}

int us_dp_rebuild(struct us_dp *dp, __u32 svc_id, enum us_pool pool)
{
	dp->err[0] = 0;
	return rebuild(dp, svc_id, pool, US_MID_NONE);
}

int us_dp_table_lookup(struct us_dp *dp, __u32 svc_id, enum us_pool pool, __u32 slot,
		       __u32 *mid)
{
	struct us_svc val;
	__u32 idx;

	dp->err[0] = 0;
	if (slot >= US_MAGLEV_SIZE || (pool != US_POOL_ACTIVE && pool != US_POOL_SIM &&
					pool != US_POOL_CTL))
		return -EINVAL;
	if (svc_find(dp, svc_id, NULL, &val))
		return -ENOENT;
	idx = us_maglev_index(svc_id, pool, *pool_gen(&val, pool), slot);
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.us_maglev), &idx, mid))
		return -errno;
	return 0;
}

/* ---- MAC addresses ----------------------------------------------------- */

static int mac_set(struct us_dp *dp, int ifindex, const __u8 mac[6], __u32 mid)
{
	struct us_mac_key k = { .ifindex = ifindex };

	if (mid >= US_MAX_MACHINES)
		return fail(dp, -EINVAL, "machine %u: id out of range", mid);
	memcpy(k.mac, mac, 6);
	macs_forget(dp, mid, &k);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_macs), &k, &mid, 0))
		return fail(dp, -errno, "machine %u: MAC map update failed: %s", mid, strerror(errno));
	return 0;
}

int us_dp_set_mac(struct us_dp *dp, int ifindex, const __u8 mac[6], __u32 mid)
{
	dp->err[0] = 0;
	return mac_set(dp, ifindex, mac, mid);
}

int us_dp_learn_macs(struct us_dp *dp)
{
	int unresolved = 0;

	if (!dp)
		return 0;       /* a controller's: no data plane */
	dp->err[0] = 0;
	for (__u32 i = 0; i < US_MAX_MACHINES; i++) {
		struct us_machine m;
		__u8 mac[6];
		int ifindex, err;

		if (machine_get(dp, i, &m) || m.state == US_MS_UNUSED || m.state == US_MS_REMOVED)
			continue;
		err = us_nl_resolve(m.family, m.addr, &ifindex, mac);
		if (err) {
			char a[INET6_ADDRSTRLEN];

			addr_str(m.family, m.addr, a, sizeof(a));
			if (err == -ENETUNREACH)
				fail(dp, err, "machine %u (%s): reached through a gateway; machines must be on-link",
				     i, a);
			else if (err != -EAGAIN)
				fail(dp, err, "machine %u (%s): %s", i, a, strerror(-err));
			unresolved++;
			continue;
		}
		err = mac_set(dp, ifindex, mac, i);
		if (err)
			return err;
	}
	return unresolved;
}

int us_dp_set_cfg(struct us_dp *dp, const struct us_cfg *cfg)
{
	__u32 zero = 0;

	dp->err[0] = 0;
	if (cfg->event_rate > 1000000)
		return fail(dp, -ERANGE, "event rate %u out of range (0..1000000 per second)",
			    cfg->event_rate);
	if (cfg->event_burst > 1000000)
		return fail(dp, -ERANGE, "event burst %u out of range (0..1000000)", cfg->event_burst);
	if (bpf_map_update_elem(bpf_map__fd(dp->skel->maps.us_cfg), &zero, cfg, 0))
		return -errno;
	return 0;
}

/* ---- counters -------------------------------------------------------------- */

int us_dp_read_stats(struct us_dp *dp, __u64 out[US_ST_MAX])
{
	int fd = bpf_map__fd(dp->skel->maps.us_stats);
	__u64 *v = calloc(dp->ncpu, sizeof(*v));

	dp->err[0] = 0;
	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < US_ST_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, v))
			continue;
		for (int c = 0; c < dp->ncpu; c++)
			out[i] += v[c];
	}
	free(v);
	return 0;
}

int us_dp_read_mstats(struct us_dp *dp, __u32 mid, struct us_mstats *out)
{
	int fd = bpf_map__fd(dp->skel->maps.us_mstats);
	const size_t words = sizeof(*out) / sizeof(__u64);
	__u64 *v, *o = (__u64 *)out;
	int err = 0;

	dp->err[0] = 0;
	_Static_assert(sizeof(struct us_mstats) % sizeof(__u64) == 0, "mstats of u64");
	if (mid >= US_MAX_MACHINES)
		return -EINVAL;
	v = calloc(dp->ncpu, sizeof(*out));
	if (!v)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &mid, v)) {
		err = -errno;
		goto out;
	}
	for (int c = 0; c < dp->ncpu; c++)
		for (size_t w = 0; w < words; w++)
			o[w] += v[c * words + w];
out:
	free(v);
	return err;
}

/*
 * The exact codes that differed, taken out of us_codes: read and deleted in
 * one batched operation per bucket (BPF_MAP_LOOKUP_AND_DELETE_BATCH), so a
 * window costs a few syscalls however many machines there are, and the map
 * never fills up with old pairs of codes (a full map loses new ones).
 */
int us_dp_take_codes(struct us_dp *dp, struct us_dp_code *out, size_t cap)
{
	int fd = bpf_map__fd(dp->skel->maps.us_codes);
	struct us_codepair_key *keys = calloc(US_CODEPAIRS, sizeof(*keys));
	__u64 *vals = calloc((size_t)US_CODEPAIRS * dp->ncpu, sizeof(*vals));
	__u32 batch = 0, got = 0, n;
	bool first = true;
	int err = 0;

	dp->err[0] = 0;
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		n = US_CODEPAIRS - got;
		if (!n)
			break;
		err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &batch, &batch, keys + got,
						      vals + (size_t)got * dp->ncpu, &n, &o);
		first = false;
		got += n;
		if (err) {
			err = errno == ENOENT ? 0 : -errno;
			if (err)
				snprintf(dp->err, sizeof(dp->err), "taking the codes out of us_codes: %s",
					 strerror(-err));
			break;
		}
	}
	if (err)
		goto out;
	for (__u32 i = 0; i < got && i < cap; i++) {
		out[i].key = keys[i];
		out[i].n = 0;
		for (int c = 0; c < dp->ncpu; c++)
			out[i].n += vals[(size_t)i * dp->ncpu + c];
	}
	err = (int)(got < cap ? got : cap);
out:
	free(keys);
	free(vals);
	return err;
}

const char *us_stat_name(enum us_stat s)
{
	static const char *const n[US_ST_MAX] = {
		[US_ST_RX] = "rx",
		[US_ST_PASS] = "pass",
		[US_ST_REQ_FWD] = "req_fwd",
		[US_ST_REQ_MIRRORED] = "req_mirrored",
		[US_ST_RESP_FWD] = "resp_fwd",
		[US_ST_RESP_SIM_DROP] = "resp_sim_drop",
		[US_ST_SIM_STRAY_DROP] = "sim_stray_drop",
		[US_ST_RETRANS_REQ] = "retrans_req",
		[US_ST_RETRANS_RESP] = "retrans_resp",
		[US_ST_RESP_NO_TXN] = "resp_no_txn",
		[US_ST_BAD_L2] = "bad_l2",
		[US_ST_BAD_L3] = "bad_l3",
		[US_ST_BAD_L4] = "bad_l4",
		[US_ST_FRAGMENT] = "fragment",
		[US_ST_OVERSIZE] = "oversize",
		[US_ST_NOT_SIP] = "not_sip",
		[US_ST_BAD_START] = "bad_start_line",
		[US_ST_NO_VIA] = "no_via",
		[US_ST_NO_CALLID] = "no_callid",
		[US_ST_NO_CSEQ] = "no_cseq",
		[US_ST_TRUNC_HDRS] = "truncated_headers",
		[US_ST_TRUNC_BODY] = "truncated_body",
		[US_ST_NO_MACHINE] = "no_machine",
		[US_ST_NO_ROUTE] = "no_route",
		[US_ST_MIRROR_SKIPPED] = "mirror_skipped",
		[US_ST_EVENTS] = "events",
		[US_ST_EVENTS_LIMITED] = "events_limited",
		[US_ST_EVENTS_LOST] = "events_lost",
		[US_ST_DLG_REWRITTEN] = "dialog_rewritten",
		[US_ST_DLG_HELD] = "dialog_held",
		[US_ST_DLG_NOT_SENT] = "dialog_not_sent",
		[US_ST_DLG_ACK_SENT] = "dialog_ack_sent",
		[US_ST_DLG_ANSWERED] = "dialog_answered",
		[US_ST_DLG_ABSORBED] = "dialog_ack_absorbed",
		[US_ST_DLG_NO_RECORD] = "dialog_no_record",
		[US_ST_DLG_TAG_LONG] = "dialog_tag_unstored",
		[US_ST_DLG_BUILD_FAIL] = "dialog_build_failed",
		[US_ST_CLIENT_RESP] = "client_response",
		[US_ST_OVERDUE] = "overdue",
		[US_ST_COPY_NO_PLAN] = "copy_without_plan",
	};

	return (unsigned)s < US_ST_MAX && n[s] ? n[s] : "?";
}

const char *us_method_name(enum us_method m)
{
	static const char *const n[US_M_MAX] = {
		[US_M_OTHER] = "other",         [US_M_INVITE] = "INVITE",
		[US_M_ACK] = "ACK",             [US_M_BYE] = "BYE",
		[US_M_CANCEL] = "CANCEL",       [US_M_REGISTER] = "REGISTER",
		[US_M_OPTIONS] = "OPTIONS",     [US_M_PRACK] = "PRACK",
		[US_M_SUBSCRIBE] = "SUBSCRIBE", [US_M_NOTIFY] = "NOTIFY",
		[US_M_PUBLISH] = "PUBLISH",     [US_M_INFO] = "INFO",
		[US_M_REFER] = "REFER",         [US_M_MESSAGE] = "MESSAGE",
		[US_M_UPDATE] = "UPDATE",
	};

	return (unsigned)m < US_M_MAX ? n[m] : "?";
}
