/* Compressed clusters: raw deflate with a 4 KiB window (no zlib header, as
 * qcow2 stores them) or a zstd frame when the image's compression type is
 * zstd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "devices/disk/qcow2/qcow2.h"

int qcow2_decompress(struct qcow2 *q, const void *in, size_t in_len, void *out, size_t out_len)
{
	if (q->compression_type == 1) {
		ZSTD_DCtx *dctx = ZSTD_createDCtx();
		ZSTD_inBuffer ib = { in, in_len, 0 };
		ZSTD_outBuffer ob = { out, out_len, 0 };
		int r = 0;

		if (!dctx)
			return -ENOMEM;
		/* The stored span may end with bytes of the next cluster's data:
		 * stop as soon as the cluster is complete. */
		while (ob.pos < ob.size) {
			size_t before_in = ib.pos, before_out = ob.pos;
			size_t ret = ZSTD_decompressStream(dctx, &ob, &ib);
			if (ZSTD_isError(ret)) {
				r = -EIO;
				break;
			}
			if (ib.pos == before_in && ob.pos == before_out) {
				r = -EIO;
				break;
			}
		}
		ZSTD_freeDCtx(dctx);
		return r;
	}

	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, -12) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)out_len;
	ret = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	/* A full output is success even when the stream goes on (padding). */
	if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK) && zs.avail_out == 0)
		return 0;
	return -EIO;
}

ssize_t qcow2_compress(struct qcow2 *q, const void *in, size_t in_len, void *out, size_t limit)
{
	if (q->compression_type == 1) {
		size_t n = ZSTD_compress(out, limit, in, in_len, 3);
		if (ZSTD_isError(n) || n >= limit)
			return 0;
		return (ssize_t)n;
	}

	z_stream zs;
	int ret;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	zs.next_out = out;
	zs.avail_out = (uInt)limit;
	ret = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (ret != Z_STREAM_END)
		return 0; /* did not fit */
	return (ssize_t)(limit - zs.avail_out);
}

/* Reads and decompresses the cluster that compressed ENTRY describes. */
int qcow2_read_compressed(struct qcow2 *q, uint64_t entry, void *cluster)
{
	uint64_t off, len;
	uint8_t *buf;
	ssize_t n;
	int r;

	/* The span was checked against the file when the entry was looked
	 * up; a short read past the end simply fails to decompress. */
	qcow2_compressed_span(q, entry, &off, &len);
	if (off == 0 || len > 2ull * q->cluster_size) {
		qerr(q, "compressed cluster at 0x%llx (%llu bytes) is outside the file",
		     (unsigned long long)off, (unsigned long long)len);
		return -EIO;
	}
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = image_pread_full(q->fd, buf, len, off);
	if (n < 0) {
		free(buf);
		qerr(q, "reading the compressed cluster at 0x%llx failed: %s",
		     (unsigned long long)off, strerror((int)-n));
		return (int)n;
	}
	r = qcow2_decompress(q, buf, (size_t)n, cluster, q->cluster_size);
	free(buf);
	if (r < 0)
		qerr(q, "compressed cluster at 0x%llx does not decompress",
		     (unsigned long long)off);
	return r;
}
