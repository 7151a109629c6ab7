/* audio_check.c - validates audio files the way the consumer validates provider answers
 * (audio_validate: whole WAV/MP3, nothing cut short). Prints one line per bad file; exit 1 when
 * any is bad. usage: audio_check FILE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "buf.h"

static int check(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        printf("%s: cannot open\n", path);
        return -1;
    }
    struct buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        buf_append(&b, chunk, n);
    fclose(fp);
    const char *dot = strrchr(path, '.');
    enum audio_format f = dot && strcmp(dot, ".mp3") == 0 ? AUDIO_MP3 : AUDIO_WAV;
    char err[256];
    int rc = audio_validate(b.data ? b.data : "", b.len, f, err, sizeof err);
    if (rc != 0)
        printf("%s: %s\n", path, err);
    buf_free(&b);
    return rc;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++)
        bad += check(argv[i]) != 0;
    return bad ? 1 : 0;
}
