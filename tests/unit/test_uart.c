/* Unit tests of the 16550A register model (devices/uart/uart16550.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/uart/uart16550.h"

/* Register bits, spelled out here so that the tests do not depend on the
 * model's private names. */
#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define IER_MS 0x08
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

#define OUT_MAX 4096
#define ACCEPT_ALL SIZE_MAX

/* A fake backend: records what the model transmits and the IRQ line. */
struct fix {
	struct uart16550 u;
	uint8_t out[OUT_MAX];
	size_t out_len;  /* bytes recorded (stops at OUT_MAX) */
	size_t out_total;
	size_t accept;   /* bytes the tx callback takes per call */
	unsigned tx_calls;
	bool level;
	unsigned irq_calls;
	uint64_t now;
};

static size_t fake_tx(void *opaque, const uint8_t *buf, size_t len)
{
	struct fix *f = opaque;
	size_t n = len < f->accept ? len : f->accept;

	f->tx_calls++;
	for (size_t i = 0; i < n; i++) {
		if (f->out_len < OUT_MAX)
			f->out[f->out_len++] = buf[i];
	}
	f->out_total += n;
	return n;
}

static void fake_irq(void *opaque, bool level)
{
	struct fix *f = opaque;

	/* The model reports changes only. */
	assert_true(level != f->level);
	f->level = level;
	f->irq_calls++;
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct uart_io io = {.opaque = f, .tx = fake_tx, .irq = fake_irq};

	if (!f)
		return -1;
	f->accept = ACCEPT_ALL;
	f->now = 1000;
	uart_init(&f->u, &io);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint8_t rd(struct fix *f, unsigned off)
{
	return uart_read(&f->u, off, f->now);
}

static void wr(struct fix *f, unsigned off, uint8_t val)
{
	uart_write(&f->u, off, val, f->now);
}

static void push(struct fix *f, const void *buf, size_t len)
{
	uart_rx_push(&f->u, buf, len, f->now);
}

static void push1(struct fix *f, uint8_t b)
{
	push(f, &b, 1);
}

static void set_divisor(struct fix *f, uint16_t div, uint8_t lcr)
{
	wr(f, UART_LCR, 0x80 | lcr);
	wr(f, UART_RBR_THR_DLL, div & 0xff);
	wr(f, UART_IER_DLM, div >> 8);
	wr(f, UART_LCR, lcr);
}

/* ------------------------------------------------------------------------ */

static void check_reset_values(struct fix *f)
{
	assert_int_equal(rd(f, UART_IER_DLM), 0x00);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	assert_int_equal(rd(f, UART_LCR), 0x00);
	assert_int_equal(rd(f, UART_MCR), 0x00);
	assert_int_equal(rd(f, UART_LSR), 0x60);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DSR | MSR_DCD);
	assert_int_equal(uart_rx_space(&f->u), 1);
	assert_false(uart_tx_pending(&f->u));
	assert_int_equal(uart_next_deadline(&f->u), 0);
	assert_false(f->level);
}

static void test_reset_values(void **state)
{
	struct fix *f = *state;

	check_reset_values(f);
	assert_int_equal(rd(f, UART_SCR), 0x00);
	wr(f, UART_LCR, 0x80);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 0x00);
	assert_int_equal(rd(f, UART_IER_DLM), 0x00);
	wr(f, UART_LCR, 0x00);
	assert_int_equal(f->irq_calls, 0);

	/* Dirty everything, with the interrupt line up, then reset. */
	set_divisor(f, 0x0102, 0x1b);
	wr(f, UART_SCR, 0x5a);
	wr(f, UART_IIR_FCR, 0xc7);
	wr(f, UART_IER_DLM, 0x0f);
	wr(f, UART_MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);
	push(f, "abc", 3);
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'x');
	f->u.msr_inputs = MSR_CTS;
	uart_tick(&f->u, f->now);
	assert_true(f->level);
	assert_int_not_equal(uart_next_deadline(&f->u), 0);

	uart_reset(&f->u);
	assert_false(f->level); /* the drop was reported */
	f->u.msr_inputs = MSR_CTS | MSR_DSR | MSR_DCD;
	uart_tick(&f->u, f->now);
	/* MSR deltas came back from the input change above: clear them. */
	rd(f, UART_MSR);
	check_reset_values(f);
	/* The MR pin leaves SCR and the divisor latch alone. */
	assert_int_equal(rd(f, UART_SCR), 0x5a);
	wr(f, UART_LCR, 0x80);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 0x02);
	assert_int_equal(rd(f, UART_IER_DLM), 0x01);
}

static void test_divisor_latch(void **state)
{
	struct fix *f = *state;

	wr(f, UART_LCR, 0x83);
	wr(f, UART_RBR_THR_DLL, 0x34);
	wr(f, UART_IER_DLM, 0x12);
	assert_int_equal(f->u.divisor, 0x1234);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 0x34);
	assert_int_equal(rd(f, UART_IER_DLM), 0x12);
	assert_int_equal(rd(f, UART_LCR), 0x83);
	assert_int_equal(f->tx_calls, 0); /* the DLL write sent nothing */

	wr(f, UART_LCR, 0x03);
	assert_int_equal(rd(f, UART_IER_DLM), 0x00); /* DLM write left IER */
	wr(f, UART_IER_DLM, 0x05);
	assert_int_equal(rd(f, UART_IER_DLM), 0x05);
	wr(f, UART_IER_DLM, 0xff);
	assert_int_equal(rd(f, UART_IER_DLM), 0x0f); /* bits 7:4 read 0 */
	wr(f, UART_IER_DLM, 0x00);
	wr(f, UART_RBR_THR_DLL, 'A');
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'A');

	/* RBR under DLAB: DLL is read, the received byte stays. */
	push1(f, 'r');
	wr(f, UART_LCR, 0x83);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 0x34);
	assert_int_equal(rd(f, UART_IER_DLM), 0x12);
	assert_int_equal(f->u.divisor, 0x1234);
	wr(f, UART_LCR, 0x03);
	assert_true(rd(f, UART_LSR) & LSR_DR);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'r');
	assert_false(rd(f, UART_LSR) & LSR_DR);
}

static void test_tx_in_order(void **state)
{
	struct fix *f = *state;
	const char *msg = "Hello, world";
	size_t n = strlen(msg);

	for (size_t i = 0; i < n; i++) {
		wr(f, UART_RBR_THR_DLL, (uint8_t)msg[i]);
		assert_int_equal(rd(f, UART_LSR), 0x60);
	}
	assert_int_equal(f->out_len, n);
	assert_memory_equal(f->out, msg, n);

	wr(f, UART_IIR_FCR, 0x07);
	f->out_len = 0;
	for (unsigned i = 0; i < 40; i++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)i);
	assert_int_equal(f->out_len, 40);
	for (unsigned i = 0; i < 40; i++)
		assert_int_equal(f->out[i], i);
	assert_false(uart_tx_pending(&f->u));
}

static void test_tx_backpressure(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IIR_FCR, 0x07);
	wr(f, UART_MCR, MCR_OUT2);
	wr(f, UART_IER_DLM, IER_THRE);
	assert_true(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	assert_false(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);

	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'a');
	wr(f, UART_RBR_THR_DLL, 'b');
	wr(f, UART_RBR_THR_DLL, 'c');
	assert_int_equal(f->out_len, 0);
	assert_true(uart_tx_pending(&f->u));
	assert_int_equal(rd(f, UART_LSR) & (LSR_THRE | LSR_TEMT), 0);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	assert_false(f->level);

	uart_tx_drain(&f->u, f->now);
	assert_true(uart_tx_pending(&f->u));
	assert_false(f->level);

	f->accept = 1; /* partial: one byte per call */
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 1);
	assert_true(uart_tx_pending(&f->u));
	assert_false(f->level);

	f->accept = ACCEPT_ALL;
	unsigned calls = f->irq_calls;
	uart_tx_drain(&f->u, f->now);
	assert_false(uart_tx_pending(&f->u));
	assert_int_equal(f->out_len, 3);
	assert_memory_equal(f->out, "abc", 3);
	assert_true(f->level);
	assert_int_equal(f->irq_calls, calls + 1);
	assert_int_equal(rd(f, UART_LSR), 0x60);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
}

static void test_tx_full_and_wrap(void **state)
{
	struct fix *f = *state;

	/* FIFO mode: 16 bytes queue, the 17th and 18th are dropped. */
	wr(f, UART_IIR_FCR, 0x01);
	f->accept = 0;
	for (unsigned i = 0; i < 18; i++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)(0x40 + i));
	assert_int_equal(f->u.tx.count, 16);
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 16);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(f->out[i], 0x40 + i);

	/* Ring wrap: move the head to the middle, fill up, drain. */
	f->out_len = 0;
	f->accept = 0;
	for (unsigned i = 0; i < 10; i++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)i);
	f->accept = 5;
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 5);
	f->accept = 0;
	for (unsigned i = 10; i < 21; i++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)i);
	wr(f, UART_RBR_THR_DLL, 0xee); /* full: dropped */
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 21);
	for (unsigned i = 0; i < 21; i++)
		assert_int_equal(f->out[i], i);

	/* FIFOs off: the THR holds one byte, the next write is dropped. */
	wr(f, UART_IIR_FCR, 0x00);
	f->out_len = 0;
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'x');
	wr(f, UART_RBR_THR_DLL, 'y');
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'x');
}

static void test_thre_ier_enable(void **state)
{
	struct fix *f = *state;

	wr(f, UART_MCR, MCR_OUT2);
	/* THR busy: enabling IER.THRE does not raise it... */
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'z');
	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	assert_false(f->level);
	/* ...the THR emptying does. */
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);
	assert_true(f->level);
	/* A THR write clears it (and the instant send latches it again). */
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'y');
	assert_false(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);

	/* Linux's UART_BUG_THRE probe: the THRE interrupt must be reasserted
	 * when IER.THRE goes 0 -> 1 again with the transmitter idle. */
	wr(f, UART_IER_DLM, 0);
	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x02);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	wr(f, UART_IER_DLM, 0);
	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x02);
}

static void test_fifo_trigger_levels(void **state)
{
	struct fix *f = *state;
	static const unsigned level[4] = {1, 4, 8, 14};

	wr(f, UART_MCR, MCR_OUT2);
	wr(f, UART_IER_DLM, IER_RDA);
	for (unsigned i = 0; i < 4; i++) {
		wr(f, UART_IIR_FCR, (uint8_t)(0x07 | i << 6));
		assert_int_equal(uart_rx_space(&f->u), 16);
		for (unsigned n = 0; n + 1 < level[i]; n++) {
			push1(f, (uint8_t)n);
			assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
			assert_false(f->level);
		}
		push1(f, (uint8_t)(level[i] - 1));
		assert_int_equal(rd(f, UART_IIR_FCR), 0xc4);
		assert_true(f->level);
		assert_int_equal(uart_rx_space(&f->u), 16 - level[i]);
		/* One read drops below the trigger: cleared. */
		assert_int_equal(rd(f, UART_RBR_THR_DLL), 0);
		assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
		assert_false(f->level);
		for (unsigned n = 1; n < level[i]; n++)
			assert_int_equal(rd(f, UART_RBR_THR_DLL), n);
		assert_false(rd(f, UART_LSR) & LSR_DR);
	}

	/* FIFOs off: any byte is "data available", no FIFO bits in IIR. */
	wr(f, UART_IIR_FCR, 0x00);
	push1(f, 'q');
	assert_int_equal(uart_rx_space(&f->u), 0);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x04);
	assert_true(f->level);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'q');
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	assert_int_equal(uart_rx_space(&f->u), 1);
	assert_int_equal(uart_next_deadline(&f->u), 0); /* no timeout */
}

static void test_char_timeout(void **state)
{
	struct fix *f = *state;
	const uint64_t T = 4166667; /* 4 * 10 bits at 9600 baud, rounded up */
	uint64_t dl;

	set_divisor(f, 12, 0x03); /* 9600 8N1 */
	wr(f, UART_IIR_FCR, 0xc7); /* trigger 14 */
	wr(f, UART_IER_DLM, IER_RDA);
	wr(f, UART_MCR, MCR_OUT2);

	f->now = 1000000;
	push(f, "abc", 3);
	dl = uart_next_deadline(&f->u);
	assert_int_equal(dl, f->now + T);
	uart_tick(&f->u, dl - 1);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	assert_false(f->level);
	uart_tick(&f->u, dl);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xcc);
	assert_true(f->level);
	assert_int_equal(uart_next_deadline(&f->u), 0);
	/* New data does not clear a timeout that has occurred. */
	f->now = dl + 10;
	push1(f, 'd');
	assert_int_equal(rd(f, UART_IIR_FCR), 0xcc);

	/* An RBR read clears it and restarts the timer. */
	f->now = dl + 1000;
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'a');
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	assert_false(f->level);
	assert_int_equal(uart_next_deadline(&f->u), f->now + T);

	/* New data restarts it. */
	uint64_t t1 = f->now;
	f->now = t1 + T / 2;
	push1(f, 'e');
	assert_int_equal(uart_next_deadline(&f->u), f->now + T);
	uart_tick(&f->u, t1 + T);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	uart_tick(&f->u, f->now + T);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xcc);
	assert_true(f->level);

	/* Empty FIFO: nothing to time. */
	for (const char *p = "bcde"; *p; p++)
		assert_int_equal(rd(f, UART_RBR_THR_DLL), *p);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	assert_int_equal(uart_next_deadline(&f->u), 0);

	/* A disabled RDA interrupt hides the timeout. */
	wr(f, UART_IER_DLM, 0);
	push1(f, 'f');
	uart_tick(&f->u, uart_next_deadline(&f->u));
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	wr(f, UART_IER_DLM, IER_RDA);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xcc);
	rd(f, UART_RBR_THR_DLL);

	/* Other frames: 7E2 = 11 bits at 9600 baud. */
	wr(f, UART_LCR, 0x1e);
	push1(f, 'g');
	assert_int_equal(uart_next_deadline(&f->u), f->now + 4583334);
	rd(f, UART_RBR_THR_DLL);
	/* 5 bits, 1.5 stop bits = 7.5 bits at 115200 baud. */
	set_divisor(f, 1, 0x04);
	push1(f, 'h');
	assert_int_equal(uart_next_deadline(&f->u), f->now + 260417);
	rd(f, UART_RBR_THR_DLL);
	/* Divisor 0 is timed as divisor 1. */
	set_divisor(f, 0, 0x03);
	push1(f, 'i');
	assert_int_equal(uart_next_deadline(&f->u), f->now + 347223);
	rd(f, UART_RBR_THR_DLL);

	/* No timeout with FIFOs off. */
	wr(f, UART_IIR_FCR, 0x00);
	push1(f, 'j');
	assert_int_equal(uart_next_deadline(&f->u), 0);
	uart_tick(&f->u, UINT64_MAX);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x04);
}

static void test_priorities(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IIR_FCR, 0x07); /* trigger 1 */
	/* Loopback: lines go from CTS|DSR|DCD to none -> MS deltas. */
	wr(f, UART_MCR, MCR_LOOP);
	wr(f, UART_IER_DLM, 0x0f); /* THRE latched: THR is empty */
	for (unsigned i = 0; i < 17; i++) /* the 17th overruns */
		wr(f, UART_RBR_THR_DLL, (uint8_t)i);

	/* RLS, cleared by reading LSR only. */
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc6);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc6);
	/* Reading MSR clears MS, not RLS. */
	assert_int_equal(rd(f, UART_MSR), MSR_DCTS | MSR_DDSR | MSR_DDCD);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc6);
	assert_int_equal(rd(f, UART_LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	/* RDA, until the FIFO is below the trigger level. */
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc4);
	for (unsigned i = 0; i < 16; i++) {
		assert_int_equal(rd(f, UART_IIR_FCR), 0xc4);
		assert_int_equal(rd(f, UART_RBR_THR_DLL), i);
	}
	/* THRE, cleared by the IIR read that reports it. */
	wr(f, UART_MCR, MCR_LOOP | MCR_RTS); /* DCTS for MS */
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	/* MS, cleared by reading MSR. */
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc0);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc0);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DCTS);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);

	/* Each source is gated by its own IER bit. */
	wr(f, UART_RBR_THR_DLL, 'x');
	wr(f, UART_MCR, MCR_LOOP);
	wr(f, UART_IER_DLM, IER_MS);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc0);
	wr(f, UART_IER_DLM, IER_MS | IER_THRE);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	wr(f, UART_IER_DLM, IER_MS | IER_THRE | IER_RDA);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc4);
	wr(f, UART_IER_DLM, 0);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
}

static void test_modem_status_inputs(void **state)
{
	struct fix *f = *state;

	wr(f, UART_MCR, MCR_OUT2);
	wr(f, UART_IER_DLM, IER_MS);
	assert_false(f->level);

	f->u.msr_inputs = MSR_CTS | MSR_DSR | MSR_RI; /* DCD drops, RI rises */
	uart_tick(&f->u, f->now);
	assert_true(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x00);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x00); /* IIR read keeps it */
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DSR | MSR_RI | MSR_DDCD);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x01);
	assert_false(f->level);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DSR | MSR_RI);

	f->u.msr_inputs = MSR_DSR; /* CTS drops, RI trailing edge */
	uart_tick(&f->u, f->now);
	assert_int_equal(rd(f, UART_MSR), MSR_DSR | MSR_DCTS | MSR_TERI);
	assert_false(f->level);
}

static void test_fifo_reset_bits(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IIR_FCR, 0x01);
	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	push(f, "hello", 5);
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, '1');
	wr(f, UART_RBR_THR_DLL, '2');
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);

	/* FCR bit 0 unchanged, no clear bits: contents stay. */
	wr(f, UART_IIR_FCR, 0x01);
	assert_int_equal(uart_rx_space(&f->u), 11);
	assert_true(uart_tx_pending(&f->u));

	/* Bit 1 clears the RX FIFO only. */
	wr(f, UART_IIR_FCR, 0x03);
	assert_int_equal(uart_rx_space(&f->u), 16);
	assert_int_equal(rd(f, UART_LSR), 0x00); /* no DR, TX busy */
	assert_true(uart_tx_pending(&f->u));

	/* Bit 2 clears the TX FIFO only: THR empty, THRE raised. */
	push(f, "hi", 2);
	wr(f, UART_IIR_FCR, 0x05);
	assert_false(uart_tx_pending(&f->u));
	assert_int_equal(rd(f, UART_LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc2);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'h');
	f->accept = ACCEPT_ALL;
	uart_tx_drain(&f->u, f->now);
	assert_int_equal(f->out_len, 0); /* the cleared bytes never go out */

	/* Changing bit 0 clears both. */
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, '3');
	wr(f, UART_IIR_FCR, 0x00);
	assert_int_equal(uart_rx_space(&f->u), 1);
	assert_false(uart_tx_pending(&f->u));
	assert_int_equal(rd(f, UART_IIR_FCR) & 0xc0, 0x00);
	push1(f, 'k');
	wr(f, UART_IIR_FCR, 0x01);
	assert_int_equal(uart_rx_space(&f->u), 16);
	assert_int_equal(rd(f, UART_IIR_FCR) & 0xc0, 0xc0);
	/* Writes with bit 0 clear program nothing else. */
	wr(f, UART_IIR_FCR, 0x00);
	push1(f, 'm');
	wr(f, UART_IIR_FCR, 0xc6);
	assert_int_equal(rd(f, UART_IIR_FCR) & 0xc0, 0x00);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'm');
}

static void test_loopback(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IIR_FCR, 0x07);
	/* Linux's probe: MCR = LOOP|OUT2|RTS must read MSR lines 0x90. */
	wr(f, UART_MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DCD | MSR_DDSR);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DCD);

	for (const char *p = "loop"; *p; p++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)*p);
	assert_int_equal(f->tx_calls, 0);
	assert_int_equal(f->out_len, 0);
	for (const char *p = "loop"; *p; p++)
		assert_int_equal(rd(f, UART_RBR_THR_DLL), *p);
	assert_false(rd(f, UART_LSR) & LSR_DR);

	/* Every line, and the deltas. */
	wr(f, UART_MCR, 0x1f);
	assert_int_equal(rd(f, UART_MSR), 0xf0 | MSR_DDSR); /* RI rise: none */
	wr(f, UART_MCR, 0x1f & ~MCR_OUT1);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DSR | MSR_DCD | MSR_TERI);
	wr(f, UART_MCR, 0x1f & ~MCR_DTR);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_RI | MSR_DCD | MSR_DDSR);
	wr(f, UART_MCR, MCR_LOOP);
	assert_int_equal(rd(f, UART_MSR),
			 MSR_DCTS | MSR_TERI | MSR_DDCD);
	wr(f, UART_MCR, MCR_LOOP | MCR_OUT2);
	assert_int_equal(rd(f, UART_MSR), MSR_DCD | MSR_DDCD);
	wr(f, UART_MCR, MCR_LOOP | MCR_DTR);
	assert_int_equal(rd(f, UART_MSR), MSR_DSR | MSR_DDSR | MSR_DDCD);

	/* SIN is disconnected: no space, pushed bytes vanish. */
	assert_int_equal(uart_rx_space(&f->u), 0);
	push(f, "zz", 2);
	assert_int_equal(rd(f, UART_LSR) & (LSR_DR | LSR_OE), 0);

	/* Out of loopback: lines from the backend, bytes to tx. */
	wr(f, UART_MCR, 0);
	assert_int_equal(rd(f, UART_MSR),
			 MSR_CTS | MSR_DSR | MSR_DCD | MSR_DCTS | MSR_DDCD);
	assert_int_equal(uart_rx_space(&f->u), 16);
	wr(f, UART_RBR_THR_DLL, 'q');
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'q');
	assert_false(rd(f, UART_LSR) & LSR_DR);

	/* Bytes queued for a stalled backend go round the loop. */
	f->accept = 0;
	wr(f, UART_RBR_THR_DLL, 'r');
	wr(f, UART_MCR, MCR_LOOP);
	assert_false(uart_tx_pending(&f->u));
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'r');
	assert_int_equal(f->out_len, 1);
}

static void test_out2_gating(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(f->irq_calls, 0); /* pending, OUT2 low */
	wr(f, UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT1);
	assert_int_equal(f->irq_calls, 0);
	wr(f, UART_MCR, MCR_OUT2);
	assert_int_equal(f->irq_calls, 1);
	assert_true(f->level);
	wr(f, UART_MCR, MCR_OUT2 | MCR_DTR | MCR_RTS);
	assert_int_equal(f->irq_calls, 1); /* no change, no call */
	wr(f, UART_MCR, MCR_OUT2 | MCR_LOOP);
	assert_int_equal(f->irq_calls, 2); /* loopback gates it */
	assert_false(f->level);
	wr(f, UART_MCR, MCR_OUT2);
	assert_int_equal(f->irq_calls, 3);
	assert_true(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0x02);
	assert_int_equal(f->irq_calls, 4);
	assert_false(f->level);
	rd(f, UART_IIR_FCR);
	assert_int_equal(f->irq_calls, 4);

	/* A source arising with OUT2 low is not reported until OUT2 rises. */
	wr(f, UART_MCR, 0);
	wr(f, UART_IER_DLM, 0);
	wr(f, UART_IER_DLM, IER_THRE);
	assert_int_equal(f->irq_calls, 4);
	wr(f, UART_MCR, MCR_OUT2);
	assert_int_equal(f->irq_calls, 5);
	assert_true(f->level);
}

static void test_overrun(void **state)
{
	struct fix *f = *state;

	/* FIFOs off, loopback: the second byte overwrites RBR. */
	wr(f, UART_MCR, MCR_LOOP);
	wr(f, UART_RBR_THR_DLL, 'a');
	assert_int_equal(rd(f, UART_LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	wr(f, UART_RBR_THR_DLL, 'b');
	assert_int_equal(rd(f, UART_LSR), LSR_OE | LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, UART_LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 'b');

	/* FIFO mode, loopback: the 17th byte is lost. */
	wr(f, UART_IIR_FCR, 0x01);
	for (unsigned i = 0; i < 17; i++)
		wr(f, UART_RBR_THR_DLL, (uint8_t)(0x30 + i));
	assert_int_equal(f->u.rx.count, 16);
	assert_int_equal(rd(f, UART_LSR) & LSR_OE, LSR_OE);
	assert_int_equal(rd(f, UART_LSR) & LSR_OE, 0);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, UART_RBR_THR_DLL), 0x30 + i);
	assert_false(rd(f, UART_LSR) & LSR_DR);

	/* A backend ignoring uart_rx_space gets an overrun, not a crash;
	 * the RLS interrupt reaches the line outside loopback. */
	wr(f, UART_MCR, MCR_OUT2);
	wr(f, UART_IER_DLM, IER_RLS);
	uint8_t big[40];
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	push(f, big, sizeof(big));
	assert_int_equal(f->u.rx.count, 16);
	assert_true(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc6);
	assert_int_equal(rd(f, UART_LSR) & LSR_OE, LSR_OE);
	assert_false(f->level);
	assert_int_equal(rd(f, UART_IIR_FCR), 0xc1);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(rd(f, UART_RBR_THR_DLL), i);

	wr(f, UART_IIR_FCR, 0x00);
	push(f, big, 3);
	assert_int_equal(f->u.rx.count, 1);
	assert_int_equal(rd(f, UART_LSR) & LSR_OE, LSR_OE);
	assert_int_equal(rd(f, UART_RBR_THR_DLL), 2);
}

static void test_scratch(void **state)
{
	struct fix *f = *state;

	for (unsigned v = 0; v < 256; v++) {
		wr(f, UART_SCR, (uint8_t)v);
		assert_int_equal(rd(f, UART_SCR), v);
	}
	wr(f, UART_LCR, 0x80); /* DLAB does not touch SCR */
	wr(f, UART_SCR, 0xa5);
	assert_int_equal(rd(f, UART_SCR), 0xa5);
	assert_int_equal(f->tx_calls, 0);
}

static void test_bad_offsets(void **state)
{
	struct fix *f = *state;
	static const unsigned offs[] = {8, 9, 15, 16, 255, 256, 0x3f8, 65535,
					 0x7fffffff, 0x80000000u, UINT32_MAX};
	struct uart16550 before;

	wr(f, UART_IIR_FCR, 0x01);
	push(f, "ab", 2);
	wr(f, UART_IER_DLM, 0x0f);
	memcpy(&before, &f->u, sizeof(before));
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		for (unsigned v = 0; v < 256; v += 17)
			wr(f, offs[i], (uint8_t)v);
		assert_int_equal(rd(f, offs[i]), 0xff);
	}
	assert_memory_equal(&before, &f->u, sizeof(before));
	/* LSR and MSR writes are ignored too. */
	wr(f, UART_LSR, 0xff);
	wr(f, UART_MSR, 0xff);
	assert_int_equal(rd(f, UART_LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	assert_int_equal(rd(f, UART_MSR), MSR_CTS | MSR_DSR | MSR_DCD);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static void check_invariants(struct fix *f)
{
	const struct uart16550 *u = &f->u;
	unsigned cap = (u->fcr & 1) ? UART_FIFO_SIZE : 1;

	assert_true(u->rx.count <= cap);
	assert_true(u->tx.count <= cap);
	assert_true(u->rx.head < UART_FIFO_SIZE);
	assert_true(u->tx.head < UART_FIFO_SIZE);
	assert_true(uart_rx_space(u) <= cap - u->rx.count);
	assert_int_equal(!!(u->lsr & LSR_DR), u->rx.count != 0);
	assert_int_equal(!!(u->lsr & LSR_THRE), u->tx.count == 0);
	assert_int_equal(uart_tx_pending(u), u->tx.count != 0);
	assert_int_equal(u->irq_level, f->level);
	assert_true(u->mcr <= 0x1f);
	assert_true(u->ier <= 0x0f);
	if (f->level)
		assert_true(u->mcr & MCR_OUT2);
	if (u->rx_deadline)
		assert_true((u->fcr & 1) && u->rx.count && !u->timeout_pending);
}

static void test_hostile(void **state)
{
	struct fix *f = *state;
	uint8_t buf[64];

	for (unsigned iter = 0; iter < 400000; iter++) {
		uint64_t r = rnd();
		unsigned off = (unsigned)(r >> 8) % 10;
		uint8_t val = (uint8_t)(r >> 16);

		switch (r % 16) {
		case 0: case 1: case 2: case 3: case 4:
			wr(f, off, val);
			break;
		case 5: case 6: case 7: case 8: case 9: {
			uint8_t v = rd(f, off);
			if (off > 7)
				assert_int_equal(v, 0xff);
			break;
		}
		case 10: {
			size_t len = (r >> 24) % (sizeof(buf) + 1);
			if ((r >> 40) & 1) { /* a polite backend */
				size_t sp = uart_rx_space(&f->u);
				if (len > sp)
					len = sp;
			}
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rnd();
			push(f, buf, len);
			break;
		}
		case 11:
			f->accept = (r >> 24) % 4 == 0 ? ACCEPT_ALL : (r >> 26) % 3;
			uart_tx_drain(&f->u, f->now);
			break;
		case 12:
			f->now += (r >> 24) % 3000000;
			uart_tick(&f->u, f->now);
			break;
		case 13: {
			uint64_t dl = uart_next_deadline(&f->u);
			if (dl && dl != UINT64_MAX && dl > f->now) {
				f->now = dl;
				uart_tick(&f->u, f->now);
			}
			break;
		}
		case 14:
			f->u.msr_inputs = val;
			uart_tick(&f->u, f->now);
			break;
		case 15:
			if ((r >> 24) % 64 == 0)
				uart_reset(&f->u);
			else if ((r >> 24) % 64 == 1)
				uart_rx_push(&f->u, NULL, 5, f->now);
			else
				wr(f, UART_RBR_THR_DLL, val);
			break;
		}
		check_invariants(f);
	}
	/* It still works afterwards. */
	uart_reset(&f->u);
	f->u.msr_inputs = MSR_CTS | MSR_DSR | MSR_DCD;
	uart_tick(&f->u, f->now);
	rd(f, UART_MSR);
	check_reset_values(f);
	f->accept = ACCEPT_ALL;
	f->out_len = 0;
	wr(f, UART_RBR_THR_DLL, 'o');
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'o');
}

/* Linux's 8250 autoconfig identifies a 16550A from these reads. */
static void test_linux_probe(void **state)
{
	struct fix *f = *state;

	wr(f, UART_IER_DLM, 0);
	assert_int_equal(rd(f, UART_IER_DLM) & 0x0f, 0);
	wr(f, UART_IER_DLM, 0x0f);
	assert_int_equal(rd(f, UART_IER_DLM) & 0x0f, 0x0f);
	wr(f, UART_IER_DLM, 0);
	wr(f, UART_IIR_FCR, 0x01);
	assert_int_equal(rd(f, UART_IIR_FCR) >> 6, 3);
	/* No EFR at LCR=0xbf: offset 2 still reads IIR, not 0. */
	wr(f, UART_LCR, 0xbf);
	assert_int_not_equal(rd(f, UART_IIR_FCR), 0);
	wr(f, UART_LCR, 0);
	/* Not a 16750: FCR bit 5 does not show in IIR bit 5. */
	wr(f, UART_IIR_FCR, 0x21);
	assert_int_equal(rd(f, UART_IIR_FCR) >> 5, 6);
	assert_int_equal(f->irq_calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_reset_values),
		T(test_divisor_latch),
		T(test_tx_in_order),
		T(test_tx_backpressure),
		T(test_tx_full_and_wrap),
		T(test_thre_ier_enable),
		T(test_fifo_trigger_levels),
		T(test_char_timeout),
		T(test_priorities),
		T(test_modem_status_inputs),
		T(test_fifo_reset_bits),
		T(test_loopback),
		T(test_out2_gating),
		T(test_overrun),
		T(test_scratch),
		T(test_bad_offsets),
		T(test_hostile),
		T(test_linux_probe),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
