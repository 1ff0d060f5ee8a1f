/* cellvm-img: a progress bar on stderr when that is a terminal. */
#include <unistd.h>

#include "tools/img/img.h"

void img_progress_start(struct img_progress *p, bool wanted)
{
	p->on = wanted && isatty(STDERR_FILENO);
	p->last_permille = -1;
	if (p->on)
		img_progress_update(p, 0, 1);
}

void img_progress_update(struct img_progress *p, uint64_t done, uint64_t total)
{
	enum { WIDTH = 40 };
	int permille, fill;

	if (!p->on)
		return;
	permille = total ? (int)(done * 1000 / total) : 1000;
	if (permille > 1000)
		permille = 1000;
	/* Redraw only when the tenth of a percent changes. */
	if (permille == p->last_permille)
		return;
	p->last_permille = permille;
	fill = permille * WIDTH / 1000;
	fprintf(stderr, "\r    (%5.1f%%) [%.*s%*s]", permille / 10.0, fill,
		"########################################", WIDTH - fill, "");
	fflush(stderr);
}

void img_progress_end(struct img_progress *p)
{
	if (!p->on)
		return;
	img_progress_update(p, 1, 1);
	fputc('\n', stderr);
}
