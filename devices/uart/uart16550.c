/* The 16550A UART register model (see uart16550.h for the API).
 *
 * Written from the TI/NS PC16550D datasheet; the guest client is Linux's
 * 8250 driver.  Everything the guest writes is untrusted: offsets above 7 are
 * ignored, and every FIFO index is bounded by the FIFO capacity whatever the
 * sequence of accesses.
 *
 * Choices where the datasheet leaves room or where a virtual line differs:
 *  - Divisor: 0 at power-on (the chip leaves it undefined).  A divisor of 0
 *    is timed as divisor 1 (115200 baud), so the character timeout fires
 *    soonest rather than never.
 *  - MR reset (uart_reset) leaves SCR and the divisor latch alone, as the
 *    datasheet says; uart_init zeroes them.
 *  - A THR write while the TX FIFO (or the THR with FIFOs off) is full is
 *    dropped; the hardware would overwrite, but dropping keeps the bytes
 *    already accepted intact and in order.
 *  - RX overrun: with FIFOs on, the arriving byte is lost (datasheet); with
 *    FIFOs off it overwrites the byte held in RBR (datasheet).  Both set OE.
 *  - Loopback: SIN is disconnected, so uart_rx_space() is 0 and bytes pushed
 *    by the backend are discarded (no OE).  Bytes already queued in the TX
 *    FIFO when loopback is switched on go round the loop.
 *  - PE/FE/BI never occur (the backend passes bytes only, break is not
 *    modelled), so LSR bit 7 stays 0; OE is the only line status error.
 *  - Reading RBR with no data returns 0.
 *  - The modem inputs (msr_inputs) are sampled on every call that takes a
 *    time (read, write, rx_push, tx_drain, tick): a backend that changes
 *    them calls uart_tick(now) to latch the delta bits and update the IRQ.
 *  - Callbacks may be NULL: a NULL tx takes every byte (a line to nowhere),
 *    a NULL irq is simply not called.  Callbacks must not re-enter the model.
 */
#include "devices/uart/uart16550.h"

#include <string.h>

#define IER_RDA 0x01
#define IER_THRE 0x02
#define IER_RLS 0x04
#define IER_MS 0x08
#define IER_MASK 0x0f

#define IIR_NONE 0x01
#define IIR_MS 0x00
#define IIR_THRE 0x02
#define IIR_RDA 0x04
#define IIR_RLS 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04
#define FCR_DMA 0x08
#define FCR_TRIGGER 0xc0

#define LCR_WLS 0x03
#define LCR_STB 0x04
#define LCR_PEN 0x08
#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_DELTAS 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_LINES 0xf0

static bool fifo_on(const struct uart16550 *u)
{
	return u->fcr & FCR_ENABLE;
}

static bool loopback(const struct uart16550 *u)
{
	return u->mcr & MCR_LOOP;
}

/* Capacity of either FIFO: 16, or the single RBR/THR with FIFOs off. */
static unsigned fifo_cap(const struct uart16550 *u)
{
	return fifo_on(u) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
	static const uint8_t levels[4] = {1, 4, 8, 14};

	return fifo_on(u) ? levels[(u->fcr & FCR_TRIGGER) >> 6] : 1;
}

static void fifo_clear(struct uart_fifo *f)
{
	f->head = 0;
	f->count = 0;
}

/* Callers check the count against the capacity first. */
static void fifo_put(struct uart_fifo *f, uint8_t b)
{
	f->buf[(f->head + f->count) % UART_FIFO_SIZE] = b;
	f->count++;
}

static uint8_t fifo_get(struct uart_fifo *f)
{
	uint8_t b = f->buf[f->head];

	f->head = (f->head + 1) % UART_FIFO_SIZE;
	f->count--;
	return b;
}

/* Four character times at the current line settings, in ns, rounded up:
 * a character is 1 start + 5..8 data + parity + 1, 1.5 or 2 stop bits, one
 * bit lasting 16 * divisor clock periods.  Counted in half bits for the 1.5
 * stop bits of 5-bit words. */
static uint64_t char_timeout_ns(const struct uart16550 *u)
{
	unsigned data = 5 + (u->lcr & LCR_WLS);
	unsigned half = 2 * (1 + data + ((u->lcr & LCR_PEN) ? 1 : 0));
	uint64_t div = u->divisor ? u->divisor : 1;

	if (u->lcr & LCR_STB)
		half += data == 5 ? 3 : 4;
	else
		half += 2;
	/* 4 chars * half/2 bits * 16 * div / clock seconds; at most
	 * 24 * 32 * 65535 * 1e9 ~ 5e16, no overflow. */
	return ((uint64_t)half * 32 * div * 1000000000ull + UART_CLOCK_HZ - 1) /
	       UART_CLOCK_HZ;
}

/* Restart the character timeout timer (FIFO mode, data present, no timeout
 * latched yet); otherwise there is nothing to time. */
static void rx_timer_restart(struct uart16550 *u, uint64_t now)
{
	uint64_t t;

	if (!fifo_on(u) || u->rx.count == 0 || u->timeout_pending) {
		u->rx_deadline = 0;
		return;
	}
	t = char_timeout_ns(u);
	u->rx_deadline = now > UINT64_MAX - t ? UINT64_MAX : now + t;
}

/* The current modem lines: from MCR in loopback, else from the backend. */
static uint8_t modem_lines(const struct uart16550 *u)
{
	uint8_t m = 0;

	if (!loopback(u))
		return u->msr_inputs & MSR_LINES;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

/* Bring MSR's upper half up to date, latching the delta bits. */
static void msr_sync(struct uart16550 *u)
{
	uint8_t old = u->msr & MSR_LINES, cur = modem_lines(u);
	uint8_t ch = old ^ cur, d = 0;

	if (ch & MSR_CTS)
		d |= MSR_DCTS;
	if (ch & MSR_DSR)
		d |= MSR_DDSR;
	if ((old & MSR_RI) && !(cur & MSR_RI)) /* trailing edge only */
		d |= MSR_TERI;
	if (ch & MSR_DCD)
		d |= MSR_DDCD;
	u->msr = cur | (u->msr & MSR_DELTAS) | d;
}

/* The interrupt identification (bits 3:0 of IIR), highest priority first. */
static uint8_t iir_source(const struct uart16550 *u)
{
	if ((u->ier & IER_RLS) && (u->lsr & LSR_ERRS))
		return IIR_RLS;
	if (u->ier & IER_RDA) {
		if (u->rx.count >= rx_trigger(u))
			return IIR_RDA;
		if (u->timeout_pending && fifo_on(u) && u->rx.count)
			return IIR_TIMEOUT;
	}
	if ((u->ier & IER_THRE) && u->thre_pending)
		return IIR_THRE;
	if ((u->ier & IER_MS) && (u->msr & MSR_DELTAS))
		return IIR_MS;
	return IIR_NONE;
}

/* Recompute the LSR bits that follow the FIFOs; the error bits are sticky. */
static void lsr_refresh(struct uart16550 *u)
{
	u->lsr &= LSR_ERRS;
	if (u->rx.count)
		u->lsr |= LSR_DR;
	/* Bytes leave for the backend as soon as it takes them, so the shift
	 * register is never busy on its own: TEMT follows THRE. */
	if (u->tx.count == 0)
		u->lsr |= LSR_THRE | LSR_TEMT;
}

/* Bring LSR up to date and report an IRQ level change.  Runs at the end of
 * every call that can change state. */
static void update(struct uart16550 *u)
{
	bool level;

	lsr_refresh(u);
	/* On PC boards the 16550's INTR pin reaches the interrupt controller
	 * through a gate driven by the -OUT2 output, so the interrupt is seen
	 * only while MCR.OUT2 is set (Linux's 8250 driver sets it when it uses
	 * the IRQ).  In loopback the OUT pins are forced inactive, which closes
	 * the gate.  Only changes are reported. */
	level = iir_source(u) != IIR_NONE && (u->mcr & MCR_OUT2) && !loopback(u);
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->io.irq)
			u->io.irq(u->io.opaque, level);
	}
}

/* One character reaches the receiver. */
static void rx_receive(struct uart16550 *u, uint8_t b)
{
	if (u->rx.count < fifo_cap(u)) {
		fifo_put(&u->rx, b);
		return;
	}
	u->lsr |= LSR_OE;
	if (!fifo_on(u) && u->rx.count == 1) /* RBR overwritten */
		u->rx.buf[u->rx.head] = b;
	/* FIFO mode: the character in the shift register is lost. */
}

/* Send what the TX FIFO holds: round the loop in loopback, else to the
 * backend, as far as it takes it.  The THRE interrupt is latched when the
 * FIFO becomes empty. */
static void tx_flush(struct uart16550 *u, uint64_t now)
{
	if (u->tx.count == 0)
		return;
	if (loopback(u)) {
		while (u->tx.count)
			rx_receive(u, fifo_get(&u->tx));
		rx_timer_restart(u, now);
	} else {
		while (u->tx.count) {
			size_t n = u->tx.count, took;

			if (n > (size_t)(UART_FIFO_SIZE - u->tx.head))
				n = UART_FIFO_SIZE - u->tx.head;
			took = u->io.tx ? u->io.tx(u->io.opaque,
						   &u->tx.buf[u->tx.head], n)
					: n;
			if (took > n)
				took = n;
			u->tx.head = (u->tx.head + took) % UART_FIFO_SIZE;
			u->tx.count -= took;
			if (took < n)
				break;
		}
	}
	if (u->tx.count == 0) {
		u->tx.head = 0;
		u->thre_pending = true;
	}
}

void uart_init(struct uart16550 *u, const struct uart_io *io)
{
	memset(u, 0, sizeof(*u));
	if (io)
		u->io = *io;
	u->msr_inputs = MSR_CTS | MSR_DSR | MSR_DCD; /* a connected backend */
	uart_reset(u);
}

void uart_reset(struct uart16550 *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->lsr = 0;
	u->fcr = 0;
	fifo_clear(&u->rx);
	fifo_clear(&u->tx);
	u->thre_pending = false;
	u->timeout_pending = false;
	u->rx_deadline = 0;
	u->msr = modem_lines(u); /* deltas cleared */
	update(u);
}

static void write_fcr(struct uart16550 *u, uint8_t val)
{
	bool had_tx = u->tx.count != 0;

	if ((val ^ u->fcr) & FCR_ENABLE) { /* mode change clears both FIFOs */
		fifo_clear(&u->rx);
		fifo_clear(&u->tx);
	}
	if (val & FCR_ENABLE) {
		/* The other bits are programmed only along with bit 0. */
		u->fcr = val & (FCR_ENABLE | FCR_DMA | FCR_TRIGGER);
		if (val & FCR_CLEAR_RX)
			fifo_clear(&u->rx);
		if (val & FCR_CLEAR_TX)
			fifo_clear(&u->tx);
	} else {
		u->fcr &= (uint8_t)~FCR_ENABLE;
	}
	if (u->rx.count == 0) {
		u->timeout_pending = false;
		u->rx_deadline = 0;
	}
	if (had_tx && u->tx.count == 0)
		u->thre_pending = true; /* THR became empty */
}

uint8_t uart_read(struct uart16550 *u, unsigned off, uint64_t now_ns)
{
	uint8_t v = 0xff;

	if (off > UART_SCR)
		return 0xff;
	msr_sync(u);
	switch (off) {
	case UART_RBR_THR_DLL:
		if (u->lcr & LCR_DLAB) {
			v = u->divisor & 0xff;
			break;
		}
		v = 0;
		if (u->rx.count)
			v = fifo_get(&u->rx);
		if (u->rx.count == 0)
			u->rx.head = 0;
		/* Reading RBR clears a latched timeout and restarts the timer. */
		u->timeout_pending = false;
		rx_timer_restart(u, now_ns);
		break;
	case UART_IER_DLM:
		v = (u->lcr & LCR_DLAB) ? u->divisor >> 8 : u->ier;
		break;
	case UART_IIR_FCR: {
		uint8_t src = iir_source(u);

		v = src | (fifo_on(u) ? IIR_FIFO : 0);
		if (src == IIR_THRE) /* reading IIR clears THRE if reported */
			u->thre_pending = false;
		break;
	}
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		lsr_refresh(u);
		v = u->lsr;
		u->lsr &= (uint8_t)~LSR_ERRS;
		break;
	case UART_MSR:
		v = u->msr;
		u->msr &= MSR_LINES;
		break;
	case UART_SCR:
		v = u->scr;
		break;
	}
	update(u);
	return v;
}

void uart_write(struct uart16550 *u, unsigned off, uint8_t val, uint64_t now_ns)
{
	if (off > UART_SCR)
		return;
	msr_sync(u);
	switch (off) {
	case UART_RBR_THR_DLL:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (u->divisor & 0xff00) | val;
			break;
		}
		u->thre_pending = false; /* writing THR clears THRE */
		if (u->tx.count < fifo_cap(u))
			fifo_put(&u->tx, val);
		tx_flush(u, now_ns);
		break;
	case UART_IER_DLM:
		if (u->lcr & LCR_DLAB) {
			u->divisor = (uint16_t)((u->divisor & 0x00ff) | val << 8);
			break;
		}
		/* Enabling the THRE interrupt while THR is empty raises it. */
		if ((val & IER_THRE) && !(u->ier & IER_THRE) && u->tx.count == 0)
			u->thre_pending = true;
		u->ier = val & IER_MASK;
		break;
	case UART_IIR_FCR:
		write_fcr(u, val);
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & MCR_MASK;
		msr_sync(u);
		if (loopback(u))
			tx_flush(u, now_ns); /* queued bytes go round the loop */
		break;
	case UART_LSR:
	case UART_MSR:
		/* Factory test writes on the real part; ignored. */
		break;
	case UART_SCR:
		u->scr = val;
		break;
	}
	update(u);
}

size_t uart_rx_space(const struct uart16550 *u)
{
	unsigned cap = fifo_cap(u);

	if (loopback(u) || u->rx.count >= cap)
		return 0;
	return cap - u->rx.count;
}

void uart_rx_push(struct uart16550 *u, const uint8_t *buf, size_t len, uint64_t now_ns)
{
	msr_sync(u);
	/* In loopback SIN is disconnected from the receiver. */
	if (buf && len && !loopback(u)) {
		for (size_t i = 0; i < len; i++)
			rx_receive(u, buf[i]);
		rx_timer_restart(u, now_ns);
	}
	update(u);
}

bool uart_tx_pending(const struct uart16550 *u)
{
	return u->tx.count != 0;
}

void uart_tx_drain(struct uart16550 *u, uint64_t now_ns)
{
	msr_sync(u);
	tx_flush(u, now_ns);
	update(u);
}

uint64_t uart_next_deadline(const struct uart16550 *u)
{
	return u->rx_deadline;
}

void uart_tick(struct uart16550 *u, uint64_t now_ns)
{
	msr_sync(u);
	if (u->rx_deadline && now_ns >= u->rx_deadline) {
		u->rx_deadline = 0;
		if (fifo_on(u) && u->rx.count)
			u->timeout_pending = true;
	}
	update(u);
}
