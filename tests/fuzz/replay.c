/*
 * replay.c: main() for the replay build of a fuzz target: runs
 * LLVMFuzzerTestOneInput once on every file of the directories (or the
 * files) named on the command line and prints one "ok - ..." line, so
 * that make test keeps every target building and its corpus passing,
 * without libFuzzer.  Link it with one tests/fuzz/fuzz_*.c.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_MAX	(4 * 1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	FILE	*f = fopen(path, "rb");
	char	*p;
	size_t	 n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	if ((p = malloc(REPLAY_MAX)) == NULL) {
		fclose(f);
		return -1;
	}
	n = fread(p, 1, REPLAY_MAX, f);
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)p, n);
	free(p);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[4096];
	const char	*name = strrchr(argv[0], '/');
	int		 i, files = 0, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s corpus-dir|file ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1 || !S_ISDIR(st.st_mode)) {
			bad |= replay_file(argv[i]) == -1;
			files++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL) {
			perror(argv[i]);
			bad = 1;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
				continue;
			bad |= replay_file(path) == -1;
			files++;
		}
		closedir(d);
	}
	printf("%s - %s keeps its invariants on %d corpus files\n",
	    bad ? "not ok" : "ok", name ? name + 1 : argv[0], files);
	return bad;
}
