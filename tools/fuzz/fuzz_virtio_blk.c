/* libFuzzer harness: the virtio-blk request layer (devices/disk/virtio_blk.c)
 * against requests whose segments and bytes are the fuzzer's.
 *
 * Guest RAM is one heap allocation of RAM_SIZE bytes between two guard
 * areas of GUARD bytes (a known pattern), so a stray access is caught by
 * ASan past the allocation and by the guard check inside it.  The disk is a
 * raw image in a memfd, IMG_SIZE bytes (or IMG_SIZE + IMG_TAIL, not a whole
 * number of sectors) of a byte pattern.
 *
 * One input:
 *
 *   byte  0     CFG_* flags
 *   byte  1     number of out segments (% (MAX_SEGS + 1))
 *   byte  2     number of in segments (% (MAX_SEGS + 1))
 *   then        4 bytes per segment, out ones first: u16 offset into RAM
 *               (% RAM_SIZE), u16 length (% (RAM_SIZE - offset + 1))
 *   then        guest RAM from offset 0; the rest zero
 *
 * Invariants checked (abort on violation):
 *  - vblk_handle returns 0 exactly when there is no non-empty in segment,
 *    else at least 1 and at most the in bytes; the status byte (the last
 *    byte of the last non-empty in segment) is OK, IOERR or UNSUPP and is
 *    what vblk_handle_res reports;
 *  - nothing outside the in segments changes in RAM, the guards included;
 *  - the image keeps its size; a request that does not end OK, and every
 *    request other than OUT, DISCARD and WRITE_ZEROES, leaves it unchanged,
 *    as does anything on a read-only disk;
 *  - an OUT that ends OK wrote exactly its data at sector * 512; a
 *    WRITE_ZEROES zeroed exactly its segments; a DISCARD changed nothing
 *    outside its segments and inside them left old data or zeroes; (all
 *    decoded here from RAM as it was before the call);
 *  - an IN that ends OK returns data + 1 and (when the in segments do not
 *    overlap) the image's bytes; GET_ID returns the serial;
 *  - no image call fails (vblk refuses bad ranges itself);
 *  - a header shorter than 16 bytes is IOERR; otherwise the status is the
 *    one worked out here from the spec's rules (expected_status).
 *
 * CELLVM_FUZZ_VIRTIO_BLK_TRACE=1 prints each request and its result.
 * CELLVM_FUZZ_VIRTIO_BLK_WRITE_SEEDS=DIR writes the seed corpus (tools/fuzz/
 * corpus/virtio_blk) into DIR and exits.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/fuzz/harness_common.h"
#include "devices/disk/virtio_blk.h"

#define RAM_SIZE (16u << 10)
#define GUARD 64u
#define GUARD_BYTE 0xa5
#define IMG_SIZE (64u << 10)
#define IMG_TAIL 300u
#define MAX_SEGS 24u
#define HDR_SIZE 3u
#define SERIAL "fuzz-serial-0123"

enum {
	CFG_READONLY = 1,     /* a read-only disk over a read-only image */
	CFG_RO_DISK = 2,      /* a read-only disk over a writable image */
	CFG_ODD_SIZE = 4,     /* the image is IMG_SIZE + IMG_TAIL bytes */
	CFG_MQ = 8,           /* 4 queues (changes nothing in requests) */
};

#define CHECK FUZZ_CHECK

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

struct seg {
	uint32_t off, len;
};

/* The bytes of segments S[0..N) of RAM, concatenated (at most CAP). */
static size_t gather(uint8_t *dst, size_t cap, const uint8_t *ram, const struct seg *s, unsigned n)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < cap; i++) {
		size_t l = s[i].len < cap - done ? s[i].len : cap - done;
		memcpy(dst + done, ram + s[i].off, l);
		done += l;
	}
	return done;
}

static bool overlapping(const struct seg *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (s[i].len && s[j].len && s[i].off < s[j].off + s[j].len &&
			    s[j].off < s[i].off + s[i].len)
				return true;
	return false;
}

static void fill_image(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + (i >> 9) + 1);
}

/* The status the spec asks for, worked out from the out bytes OB (OLEN long,
 * at least the header) and the writable bytes before the status. */
static uint8_t expected_status(const uint8_t *ob, size_t olen, uint64_t in_data, bool ro,
			       size_t isize)
{
	uint32_t type = get32(ob);
	uint64_t sector = get64(ob + 8), cap = isize / 512, data;

	switch (type) {
	case VIRTIO_BLK_T_FLUSH:
	case VIRTIO_BLK_T_GET_ID:
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (type == VIRTIO_BLK_T_OUT && ro)
			return VIRTIO_BLK_S_IOERR;
		data = type == VIRTIO_BLK_T_IN ? in_data : olen - 16;
		if (data % 512 || data > UINT32_MAX || sector > cap || data / 512 > cap - sector)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		if (ro || olen == 16 || (olen - 16) % 16 || (olen - 16) / 16 > VBLK_MAX_DISCARD_SEG)
			return VIRTIO_BLK_S_IOERR;
		uint8_t st = VIRTIO_BLK_S_OK;
		for (size_t p = 16; p < olen; p += 16) {
			uint64_t s = get64(ob + p);
			uint32_t n = get32(ob + p + 8), f = get32(ob + p + 12);
			if (f > 1 || (f == 1 && type == VIRTIO_BLK_T_DISCARD))
				return VIRTIO_BLK_S_UNSUPP;
			if (n > VBLK_MAX_DISCARD_SECTORS || s > cap || n > cap - s)
				st = VIRTIO_BLK_S_IOERR;
		}
		return st;
	}
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* Checks the image AFTER against BEFORE for what the request (decoded from
 * the out bytes OB, OLEN long) may have done, given it ended OK. */
static void check_effect(const uint8_t *before, const uint8_t *after, size_t isize,
			 const uint8_t *ob, size_t olen, uint32_t type)
{
	static uint8_t expect[IMG_SIZE + IMG_TAIL];
	static uint8_t may_zero[IMG_SIZE + IMG_TAIL];

	memcpy(expect, before, isize);
	memset(may_zero, 0, isize);
	if (type == VIRTIO_BLK_T_OUT) {
		uint64_t sector = get64(ob + 8), len = olen - 16;
		CHECK(sector <= isize / 512 && len <= isize - sector * 512, "OUT OK beyond the disk");
		CHECK(len % 512 == 0, "OUT OK of %llu bytes", (unsigned long long)len);
		memcpy(expect + sector * 512, ob + 16, len);
	} else if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		CHECK(olen > 16 && (olen - 16) % 16 == 0, "%s OK with %zu bytes",
		      type == VIRTIO_BLK_T_DISCARD ? "DISCARD" : "WRITE_ZEROES", olen);
		CHECK((olen - 16) / 16 <= VBLK_MAX_DISCARD_SEG, "too many segments");
		for (size_t p = 16; p < olen; p += 16) {
			uint64_t s = get64(ob + p);
			uint32_t n = get32(ob + p + 8), f = get32(ob + p + 12);
			CHECK(f == 0 || (f == 1 && type == VIRTIO_BLK_T_WRITE_ZEROES), "flags %x", f);
			CHECK(s <= isize / 512 && n <= isize / 512 - s, "segment beyond the disk");
			if (type == VIRTIO_BLK_T_WRITE_ZEROES)
				memset(expect + s * 512, 0, (size_t)n * 512);
			else
				memset(may_zero + s * 512, 1, (size_t)n * 512);
		}
	}
	for (size_t i = 0; i < isize; i++)
		CHECK(after[i] == expect[i] || (may_zero[i] && after[i] == 0),
		      "image byte %zu is %u, expected %u (type %u)", i, after[i], expect[i], type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t before[IMG_SIZE + IMG_TAIL], after[IMG_SIZE + IMG_TAIL];
	static uint8_t snap[RAM_SIZE], ob[MAX_SEGS * RAM_SIZE], ib[MAX_SEGS * RAM_SIZE];
	uint8_t hdr[HDR_SIZE] = { 0 };
	size_t take = size < HDR_SIZE ? size : HDR_SIZE;

	memcpy(hdr, data, take);
	data += take;
	size -= take;
	uint8_t flags = hdr[0];
	unsigned out_num = hdr[1] % (MAX_SEGS + 1), in_num = hdr[2] % (MAX_SEGS + 1);

	/* Segments. */
	struct seg segs[2 * MAX_SEGS];
	for (unsigned i = 0; i < out_num + in_num; i++) {
		uint8_t b[4] = { 0 };
		take = size < 4 ? size : 4;
		memcpy(b, data, take);
		data += take;
		size -= take;
		segs[i].off = (uint32_t)(b[0] | b[1] << 8) % RAM_SIZE;
		segs[i].len = (uint32_t)(b[2] | b[3] << 8) % (RAM_SIZE - segs[i].off + 1);
	}
	struct seg *os = segs, *is = segs + out_num;

	/* Guest RAM between guards. */
	uint8_t *mem = malloc(RAM_SIZE + 2 * GUARD);
	CHECK(mem, "out of memory");
	memset(mem, GUARD_BYTE, GUARD);
	memset(mem + GUARD + RAM_SIZE, GUARD_BYTE, GUARD);
	uint8_t *ram = mem + GUARD;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);

	/* The disk. */
	size_t isize = IMG_SIZE + ((flags & CFG_ODD_SIZE) ? IMG_TAIL : 0);
	fill_image(before, isize);
	int fd = memfd_create("fuzz-vblk.raw", MFD_CLOEXEC);
	CHECK(fd >= 0, "memfd_create: %s", strerror(errno));
	CHECK(pwrite(fd, before, isize, 0) == (ssize_t)isize, "pwrite");
	int watch = dup(fd);
	CHECK(watch >= 0, "dup");
	bool ro_img = flags & CFG_READONLY, ro = ro_img || (flags & CFG_RO_DISK);
	struct image_options o = { .format = IMAGE_FORMAT_RAW, .readonly = ro_img };
	struct image *img;
	char err[256];
	CHECK(image_open_fd(fd, "fuzz-vblk.raw", &o, &img, err, sizeof(err)) == 0, "open: %s", err);
	struct vblk b;
	CHECK(vblk_init(&b, img, ro, SERIAL, (flags & CFG_MQ) ? 4 : 1, err, sizeof(err)) == 0,
	      "vblk_init: %s", err);

	/* The request. */
	struct iovec ov[MAX_SEGS], iv[MAX_SEGS];
	uint64_t in_total = 0;
	int last = -1;
	for (unsigned i = 0; i < out_num; i++)
		ov[i] = (struct iovec){ ram + os[i].off, os[i].len };
	for (unsigned i = 0; i < in_num; i++) {
		iv[i] = (struct iovec){ ram + is[i].off, is[i].len };
		in_total += is[i].len;
		if (is[i].len)
			last = (int)i;
	}
	memcpy(snap, ram, RAM_SIZE);
	size_t olen = gather(ob, sizeof(ob), snap, os, out_num);

	struct vblk_result res;
	uint32_t used = vblk_handle_res(&b, ov, out_num, iv, in_num, &res);
	FUZZ_TRACE("out %u segs %zu bytes, in %u segs %llu bytes, type %u sector %llu -> used %u "
	      "status %u err %d %s\n", out_num, olen, in_num, (unsigned long long)in_total,
	      olen >= 4 ? get32(ob) : UINT32_MAX,
	      olen >= 16 ? (unsigned long long)get64(ob + 8) : 0ull, used, res.status, res.err,
	      res.why ? res.why : "");

	/* RAM: only the in segments may change; the guards never. */
	for (unsigned i = 0; i < GUARD; i++)
		CHECK(mem[i] == GUARD_BYTE && mem[GUARD + RAM_SIZE + i] == GUARD_BYTE,
		      "guard byte %u written", i);
	for (uint32_t a = 0; a < RAM_SIZE; a++) {
		if (ram[a] == snap[a])
			continue;
		bool inside = false;
		for (unsigned i = 0; i < in_num && !inside; i++)
			inside = a >= is[i].off && a - is[i].off < is[i].len;
		CHECK(inside, "RAM byte 0x%x outside the in segments changed", a);
	}

	/* Used length and status. */
	uint8_t status = 0xff;
	if (last < 0) {
		CHECK(used == 0, "no status byte, used %u", used);
	} else {
		status = ram[is[last].off + is[last].len - 1];
		CHECK(used >= 1 && used <= in_total, "used %u of %llu", used,
		      (unsigned long long)in_total);
		CHECK(status <= VIRTIO_BLK_S_UNSUPP, "status %u", status);
		CHECK(status == res.status, "status %u, result says %u", status, res.status);
		CHECK(status == VIRTIO_BLK_S_OK || used == 1, "failed with used %u", used);
		CHECK(status == VIRTIO_BLK_S_OK || res.why, "failure without a reason");
		/* A raw image in a memfd fails only when asked something invalid,
		 * which vblk must have refused itself. */
		CHECK(res.err == 0, "the image call failed with %d (%s)", res.err, res.why);
	}
	uint32_t type = olen >= 16 ? get32(ob) : UINT32_MAX;
	if (last >= 0 && olen < 16)
		CHECK(status == VIRTIO_BLK_S_IOERR, "short header: status %u", status);
	if (last >= 0 && olen >= 16) {
		CHECK(res.type == type, "type %u, result says %u", type, res.type);
		bool known = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT ||
			     type == VIRTIO_BLK_T_FLUSH || type == VIRTIO_BLK_T_GET_ID ||
			     type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES;
		CHECK(known || status == VIRTIO_BLK_S_UNSUPP, "type %u: status %u", type, status);
		uint8_t want = expected_status(ob, olen, in_total - 1, ro, isize);
		CHECK(status == want, "type %u: status %u, the spec says %u", type, status, want);
		if (ro && (type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
			   type == VIRTIO_BLK_T_WRITE_ZEROES))
			CHECK(status != VIRTIO_BLK_S_OK, "a write-type request on a read-only disk");
	}

	/* Read results. */
	bool in_disjoint = last >= 0 && !overlapping(is, (unsigned)last + 1);
	if (status == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN) {
		uint64_t sector = get64(ob + 8);
		CHECK(used == in_total, "IN: used %u of %llu", used, (unsigned long long)in_total);
		CHECK((in_total - 1) % 512 == 0 && sector <= isize / 512 &&
			      (in_total - 1) / 512 <= isize / 512 - sector,
		      "IN OK at %llu of %llu bytes", (unsigned long long)sector,
		      (unsigned long long)in_total - 1);
		if (in_disjoint) {
			gather(ib, sizeof(ib), ram, is, (unsigned)last + 1);
			CHECK(!memcmp(ib, before + sector * 512, in_total - 1), "IN data differs");
		}
	}
	if (status == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_GET_ID) {
		uint64_t n = in_total - 1 < VBLK_ID_BYTES ? in_total - 1 : VBLK_ID_BYTES;
		char want[VBLK_ID_BYTES] = SERIAL;
		CHECK(used == n + 1, "GET_ID: used %u", used);
		if (in_disjoint) {
			gather(ib, sizeof(ib), ram, is, (unsigned)last + 1);
			CHECK(!memcmp(ib, want, n), "GET_ID data differs");
		}
	}

	/* The image. */
	struct stat st;
	CHECK(fstat(watch, &st) == 0 && (size_t)st.st_size == isize, "image size changed");
	CHECK(image_size(img) == isize, "image_size changed");
	CHECK(pread(watch, after, isize, 0) == (ssize_t)isize, "pread");
	if (status == VIRTIO_BLK_S_OK && !ro)
		check_effect(before, after, isize, ob, olen, type);
	else
		CHECK(!memcmp(before, after, isize), "image changed (status %u, ro %d)", status, ro);

	CHECK(image_close(img) == 0, "close");
	close(watch);
	free(mem);
	return 0;
}

/* --- seed corpus --------------------------------------------------------------
 * Well-formed requests of every type, split in various ways, and some
 * hostile ones.  RAM layout of the seeds: header at 0x0, data at 0x100-0xb00,
 * discard segments at 0x80, status at 0x3f00. */

struct seed {
	uint8_t hdr[HDR_SIZE];
	uint8_t segs[4 * 2 * MAX_SEGS];
	uint8_t ram[RAM_SIZE];
	unsigned nout, nin;
	struct seg out[MAX_SEGS], in[MAX_SEGS];
};

static void s_begin(struct seed *s, uint8_t flags, uint32_t type, uint64_t sector)
{
	memset(s, 0, sizeof(*s));
	s->hdr[0] = flags;
	memcpy(s->ram, &type, 4);
	memcpy(s->ram + 8, &sector, 8);
	for (unsigned i = 0; i < 0xa00; i++)
		s->ram[0x100 + i] = (uint8_t)(i * 13 + 5);
}

static void s_out(struct seed *s, uint32_t off, uint32_t len)
{
	s->out[s->nout++] = (struct seg){ off, len };
}

static void s_in(struct seed *s, uint32_t off, uint32_t len)
{
	s->in[s->nin++] = (struct seg){ off, len };
}

static void s_dwz(struct seed *s, unsigned i, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint8_t *p = s->ram + 0x80 + 16 * i;
	memcpy(p, &sector, 8);
	memcpy(p + 8, &num, 4);
	memcpy(p + 12, &flags, 4);
}

static void s_write(struct seed *s, const char *dir, const char *name)
{
	char path[512];
	size_t ram_len = RAM_SIZE;
	while (ram_len && !s->ram[ram_len - 1])
		ram_len--;
	s->hdr[1] = (uint8_t)s->nout;
	s->hdr[2] = (uint8_t)s->nin;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	CHECK(f, "cannot create %s", path);
	fwrite(s->hdr, 1, HDR_SIZE, f);
	for (unsigned i = 0; i < s->nout + s->nin; i++) {
		struct seg g = i < s->nout ? s->out[i] : s->in[i - s->nout];
		uint8_t b[4] = { (uint8_t)g.off, (uint8_t)(g.off >> 8), (uint8_t)g.len,
				 (uint8_t)(g.len >> 8) };
		fwrite(b, 1, 4, f);
	}
	fwrite(s->ram, 1, ram_len, f);
	CHECK(fclose(f) == 0, "cannot write %s", path);
}

static void write_seeds(const char *dir)
{
	static struct seed s;

	mkdir(dir, 0755);
	/* read 4 sectors: header, data in two pieces, status */
	s_begin(&s, 0, VIRTIO_BLK_T_IN, 3);
	s_out(&s, 0, 16);
	s_in(&s, 0x100, 1000);
	s_in(&s, 0x1000, 1048);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "read");

	/* read with data and status in one segment, at the end of the disk */
	s_begin(&s, CFG_ODD_SIZE, VIRTIO_BLK_T_IN, IMG_SIZE / 512 - 2);
	s_out(&s, 0, 16);
	s_in(&s, 0x100, 1025);
	s_write(&s, dir, "read-end");

	/* write 2 sectors, header split 3 + 13 */
	s_begin(&s, 0, VIRTIO_BLK_T_OUT, 9);
	s_out(&s, 0, 3);
	s_out(&s, 3, 13);
	s_out(&s, 0x100, 700);
	s_out(&s, 0x800, 324);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "write");

	/* write on a read-only disk */
	s_begin(&s, CFG_RO_DISK, VIRTIO_BLK_T_OUT, 0);
	s_out(&s, 0, 16);
	s_out(&s, 0x100, 512);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "write-ro");

	s_begin(&s, CFG_MQ, VIRTIO_BLK_T_FLUSH, 0);
	s_out(&s, 0, 16);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "flush");

	s_begin(&s, 0, VIRTIO_BLK_T_GET_ID, 0);
	s_out(&s, 0, 16);
	s_in(&s, 0x200, 7);
	s_in(&s, 0x300, 14);
	s_write(&s, dir, "get-id");

	/* discard two ranges; write zeroes three, one with unmap */
	s_begin(&s, 0, VIRTIO_BLK_T_DISCARD, 0);
	s_dwz(&s, 0, 8, 16, 0);
	s_dwz(&s, 1, 100, 4, 0);
	s_out(&s, 0, 16);
	s_out(&s, 0x80, 20);
	s_out(&s, 0x94, 12);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "discard");

	s_begin(&s, CFG_ODD_SIZE, VIRTIO_BLK_T_WRITE_ZEROES, 0);
	s_dwz(&s, 0, 1, 3, 0);
	s_dwz(&s, 1, 50, 10, 1);
	s_dwz(&s, 2, IMG_SIZE / 512 - 1, 1, 0);
	s_out(&s, 0, 16);
	s_out(&s, 0x80, 48);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "write-zeroes");

	/* hostile: discard with unmap and unknown flags, sector overflow,
	 * a partial sector, a short header, no status, aliasing segments */
	s_begin(&s, 0, VIRTIO_BLK_T_DISCARD, 0);
	s_dwz(&s, 0, 8, 16, 1);
	s_dwz(&s, 1, 8, 16, 6);
	s_out(&s, 0, 16);
	s_out(&s, 0x80, 32);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "discard-flags");

	s_begin(&s, 0, VIRTIO_BLK_T_DISCARD, 0);
	s_dwz(&s, 0, 8, 16, 1);
	s_out(&s, 0, 16);
	s_out(&s, 0x80, 16);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "discard-unmap");

	s_begin(&s, 0, VIRTIO_BLK_T_IN, UINT64_MAX - 1);
	s_out(&s, 0, 16);
	s_in(&s, 0x100, 1025);
	s_write(&s, dir, "read-overflow");

	s_begin(&s, 0, VIRTIO_BLK_T_IN, 0);
	s_out(&s, 0, 16);
	s_in(&s, 0x100, 100);
	s_in(&s, 0x400, 401);
	s_write(&s, dir, "read-partial");

	s_begin(&s, 0, VIRTIO_BLK_T_OUT, 0);
	s_out(&s, 0, 9);
	s_out(&s, 0x10, 0);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "short-header");

	s_begin(&s, 0, VIRTIO_BLK_T_OUT, 0);
	s_out(&s, 0, 16);
	s_out(&s, 0x100, 512);
	s_in(&s, 0x3f00, 0);
	s_write(&s, dir, "no-status");

	/* the read lands on its own header and on the status */
	s_begin(&s, 0, VIRTIO_BLK_T_IN, 1);
	s_out(&s, 0, 16);
	s_in(&s, 0, 512);
	s_in(&s, 8, 1);
	s_write(&s, dir, "read-aliased");

	s_begin(&s, CFG_READONLY, 0x77, 0);
	s_out(&s, 0, 16);
	s_in(&s, 0x3f00, 1);
	s_write(&s, dir, "unknown-type");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_setup("fuzz_virtio_blk", "VIRTIO_BLK", write_seeds);
	return 0;
}
