/*
 * scsi_write: sends one SCSI WRITE(10) of one logical block straight to a
 * SCSI disk or CD-ROM through SG_IO, past the guest kernel's own read-only
 * checks (the device is opened read-only; SG_IO needs CAP_SYS_RAWIO), so
 * that the device itself has to refuse the write.  Runs in the test guest
 * (static; tools/bench/guest_initrd.sh puts it in /bin).
 *
 * usage: scsi_write DEVICE [LBA]
 * Prints one line:
 *   scsi-write: accepted
 *   scsi-write: refused status=0x02 sense_key=0x7 asc=0x27 ascq=0x00
 * and exits 0 when the write was accepted, 3 when the device refused it
 * (any non-GOOD status, or a host/driver error), 1 on other errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <scsi/sg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    unsigned char cdb[10] = { 0x2a }; /* WRITE(10) */
    unsigned char sense[32] = { 0 };
    struct sg_io_hdr io;
    unsigned long lba = 0;
    int fd, bs = 0;
    void *buf;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: scsi_write DEVICE [LBA]\n");
        return 1;
    }
    if (argc == 3)
        lba = strtoul(argv[2], NULL, 0);
    fd = open(argv[1], O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "scsi_write: open %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (ioctl(fd, BLKSSZGET, &bs) < 0 || bs <= 0)
        bs = 512;
    buf = malloc(bs);
    if (!buf)
        return 1;
    memset(buf, 0xa5, bs);
    cdb[2] = lba >> 24;
    cdb[3] = lba >> 16;
    cdb[4] = lba >> 8;
    cdb[5] = lba;
    cdb[8] = 1; /* one block */

    memset(&io, 0, sizeof io);
    io.interface_id = 'S';
    io.dxfer_direction = SG_DXFER_TO_DEV;
    io.cmd_len = sizeof cdb;
    io.cmdp = cdb;
    io.dxfer_len = bs;
    io.dxferp = buf;
    io.mx_sb_len = sizeof sense;
    io.sbp = sense;
    io.timeout = 20000;
    if (ioctl(fd, SG_IO, &io) < 0) {
        fprintf(stderr, "scsi_write: SG_IO on %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (io.status == 0 && io.host_status == 0 && (io.driver_status & 0xf) == 0) {
        printf("scsi-write: accepted\n");
        return 0;
    }
    /* Fixed-format sense (0x70/0x71) or descriptor format (0x72/0x73). */
    int key = 0, asc = 0, ascq = 0;
    if (io.sb_len_wr >= 14 && (sense[0] & 0x7e) == 0x70) {
        key = sense[2] & 0xf;
        asc = sense[12];
        ascq = sense[13];
    } else if (io.sb_len_wr >= 4 && (sense[0] & 0x7e) == 0x72) {
        key = sense[1] & 0xf;
        asc = sense[2];
        ascq = sense[3];
    }
    printf("scsi-write: refused status=0x%02x host=0x%x driver=0x%x sense_key=0x%x asc=0x%02x ascq=0x%02x\n",
           io.status, io.host_status, io.driver_status, key, asc, ascq);
    return 3;
}
