/*
 * track_image: runs the gaze tracker on one image and prints the gaze JSON.
 *
 *   track_image IMAGE.ppm|IMAGE.pgm          binary PPM (P6, RGB) or PGM (P5, gray), maxval 255
 *   track_image FRAME.raw WIDTH HEIGHT FMT   raw packed pixels; FMT is gray|bgr|rgb|bgra|rgba
 *
 * Prints the per-frame JSON message (the server's shape), then a session report for the
 * one-frame session. Also checks that bad calls fail with the documented status codes.
 * The environment variable GAZE_ENGINE chooses the inference engine: auto (default),
 * openvino or opencv; the engine that ran is printed on stderr.
 * Exit status: 0 on success, 1 on usage or I/O errors, 2 on an unexpected library result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gaze.h"

typedef struct image {
    unsigned char *pixels;
    uint32_t width;
    uint32_t height;
    uint32_t format;
    size_t bytes_per_pixel;
} image;

static int read_token(FILE *f, char *buf, size_t len) {
    int c;
    size_t n = 0;
    /* Skip whitespace and comments. */
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        } else {
            break;
        }
    }
    while (c != EOF && c != ' ' && c != '\t' && c != '\n' && c != '\r' && n + 1 < len) {
        buf[n++] = (char)c;
        c = fgetc(f);
    }
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

static int read_pnm(const char *path, image *img) {
    char tok[32];
    unsigned long w, h, maxval;
    size_t size;
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    if (read_token(f, tok, sizeof tok) != 0 || (strcmp(tok, "P6") != 0 && strcmp(tok, "P5") != 0)) {
        fprintf(stderr, "%s: not a binary PPM (P6) or PGM (P5)\n", path);
        fclose(f);
        return -1;
    }
    img->format = strcmp(tok, "P6") == 0 ? GAZE_FORMAT_RGB : GAZE_FORMAT_GRAY;
    img->bytes_per_pixel = img->format == GAZE_FORMAT_RGB ? 3 : 1;
    if (read_token(f, tok, sizeof tok) != 0 || sscanf(tok, "%lu", &w) != 1 ||
        read_token(f, tok, sizeof tok) != 0 || sscanf(tok, "%lu", &h) != 1 ||
        read_token(f, tok, sizeof tok) != 0 || sscanf(tok, "%lu", &maxval) != 1 || maxval != 255 ||
        w == 0 || h == 0 || w > 16384 || h > 16384) {
        fprintf(stderr, "%s: unsupported header (need 8-bit, 1..16384 pixels per side)\n", path);
        fclose(f);
        return -1;
    }
    img->width = (uint32_t)w;
    img->height = (uint32_t)h;
    size = (size_t)w * (size_t)h * img->bytes_per_pixel;
    img->pixels = malloc(size);
    if (!img->pixels || fread(img->pixels, 1, size, f) != size) {
        fprintf(stderr, "%s: truncated pixel data\n", path);
        free(img->pixels);
        img->pixels = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static int parse_format(const char *name, uint32_t *format, size_t *bpp) {
    static const struct {
        const char *name;
        uint32_t format;
        size_t bpp;
    } formats[] = {
        {"gray", GAZE_FORMAT_GRAY, 1}, {"bgr", GAZE_FORMAT_BGR, 3}, {"rgb", GAZE_FORMAT_RGB, 3},
        {"bgra", GAZE_FORMAT_BGRA, 4}, {"rgba", GAZE_FORMAT_RGBA, 4},
    };
    size_t i;
    for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        if (strcmp(name, formats[i].name) == 0) {
            *format = formats[i].format;
            *bpp = formats[i].bpp;
            return 0;
        }
    }
    return -1;
}

static int read_raw(const char *path, const char *w, const char *h, const char *fmt, image *img) {
    unsigned long width, height;
    size_t size;
    FILE *f;
    if (sscanf(w, "%lu", &width) != 1 || sscanf(h, "%lu", &height) != 1 || width == 0 ||
        height == 0 || width > 16384 || height > 16384 ||
        parse_format(fmt, &img->format, &img->bytes_per_pixel) != 0) {
        fprintf(stderr, "bad raw frame description: %s %s %s\n", w, h, fmt);
        return -1;
    }
    img->width = (uint32_t)width;
    img->height = (uint32_t)height;
    size = (size_t)width * (size_t)height * img->bytes_per_pixel;
    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    img->pixels = malloc(size);
    if (!img->pixels || fread(img->pixels, 1, size, f) != size) {
        fprintf(stderr, "%s: expected %zu bytes\n", path, size);
        free(img->pixels);
        img->pixels = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Checks that a call failed with the expected status and left a message. */
static int expect(const char *what, gaze_status got, gaze_status want) {
    if (got != want) {
        fprintf(stderr, "%s: expected status %d (%s), got %d (%s)\n", what, (int)want,
                gaze_status_message((uint32_t)want), (int)got, gaze_status_message((uint32_t)got));
        return 1;
    }
    if (want != GAZE_OK && gaze_last_error_message()[0] == '\0') {
        fprintf(stderr, "%s: no error message\n", what);
        return 1;
    }
    return 0;
}

static int check_bad_calls(gaze_tracker *tracker, const image *img) {
    gaze_tracker *bad = NULL;
    gaze_frame_result result;
    char *json = NULL;
    int failures = 0;
    size_t row = (size_t)img->width * img->bytes_per_pixel;

    failures += expect("NULL tracker",
                       gaze_tracker_process(NULL, img->pixels, img->width, img->height, row,
                                            img->format, 0.0, &result),
                       GAZE_ERROR_NULL_POINTER);
    failures += expect("NULL pixels",
                       gaze_tracker_process(tracker, NULL, img->width, img->height, row,
                                            img->format, 0.0, &result),
                       GAZE_ERROR_NULL_POINTER);
    failures += expect("stride too small",
                       gaze_tracker_process(tracker, img->pixels, img->width, img->height, row - 1,
                                            img->format, 0.0, &result),
                       GAZE_ERROR_INVALID_FRAME);
    failures += expect("zero width",
                       gaze_tracker_process(tracker, img->pixels, 0, img->height, row,
                                            img->format, 0.0, &result),
                       GAZE_ERROR_INVALID_FRAME);
    failures += expect("unknown format",
                       gaze_tracker_process(tracker, img->pixels, img->width, img->height, row, 99,
                                            0.0, &result),
                       GAZE_ERROR_INVALID_ARGUMENT);
    failures += expect("no result yet", gaze_tracker_last_json(tracker, &json),
                       GAZE_ERROR_NO_RESULT);
    failures += expect("bad config", gaze_tracker_new("{\"min_face_score\": 7}", NULL),
                       GAZE_ERROR_NULL_POINTER);
    failures += expect("unknown engine", gaze_tracker_new_with_engine(NULL, 42, &bad),
                       GAZE_ERROR_INVALID_ARGUMENT);
    failures += expect("openvino from a missing library",
                       gaze_tracker_new("{\"inference\": {\"engine\": \"openvino\", "
                                        "\"openvino_library\": \"/nonexistent/lib\"}}",
                                        &bad),
                       GAZE_ERROR_ENGINE);
    gaze_tracker_free(bad);
    return failures;
}

int main(int argc, char **argv) {
    image img = {0};
    gaze_tracker *tracker = NULL;
    gaze_tracker *bad = NULL;
    gaze_session *session = NULL;
    gaze_frame_result result;
    char *json = NULL;
    char *report = NULL;
    int status = 2;

    if (argc == 2) {
        if (read_pnm(argv[1], &img) != 0) return 1;
    } else if (argc == 5) {
        if (read_raw(argv[1], argv[2], argv[3], argv[4], &img) != 0) return 1;
    } else {
        fprintf(stderr, "usage: %s IMAGE.ppm|IMAGE.pgm\n       %s FRAME.raw WIDTH HEIGHT FORMAT\n",
                argv[0], argv[0]);
        return 1;
    }

    const char *engine_name = getenv("GAZE_ENGINE");
    uint32_t engine = GAZE_ENGINE_AUTO;
    uint32_t running = 0;
    if (engine_name != NULL && strcmp(engine_name, "openvino") == 0) {
        engine = GAZE_ENGINE_OPENVINO;
    } else if (engine_name != NULL && strcmp(engine_name, "opencv") == 0) {
        engine = GAZE_ENGINE_OPENCV;
    } else if (engine_name != NULL && engine_name[0] != '\0' && strcmp(engine_name, "auto") != 0) {
        fprintf(stderr, "GAZE_ENGINE must be auto, openvino or opencv\n");
        return 1;
    }
    if (gaze_tracker_new_with_engine(NULL, engine, &tracker) != GAZE_OK) {
        fprintf(stderr, "gaze_tracker_new_with_engine: %s\n", gaze_last_error_message());
        goto done;
    }
    if (gaze_tracker_engine(tracker, &running) != GAZE_OK) goto done;
    fprintf(stderr, "engine: %s\n", running == GAZE_ENGINE_OPENVINO ? "openvino" : "opencv");
    if (check_bad_calls(tracker, &img) != 0) goto done;
    if (expect("out-of-range config", gaze_tracker_new("{\"min_face_score\": 7}", &bad),
               GAZE_ERROR_CONFIG) != 0) {
        goto done;
    }

    if (gaze_tracker_process(tracker, img.pixels, img.width, img.height,
                             (size_t)img.width * img.bytes_per_pixel, img.format, 0.0,
                             &result) != GAZE_OK) {
        fprintf(stderr, "gaze_tracker_process: %s\n", gaze_last_error_message());
        goto done;
    }
    if (gaze_tracker_last_json(tracker, &json) != GAZE_OK) {
        fprintf(stderr, "gaze_tracker_last_json: %s\n", gaze_last_error_message());
        goto done;
    }
    printf("%s\n", json);
    fprintf(stderr, "face: %s", result.has_face ? "yes" : "no");
    if (result.has_eyes) {
        fprintf(stderr, ", left iris (%.1f, %.1f), right iris (%.1f, %.1f)",
                (double)result.left_eye.center.x, (double)result.left_eye.center.y,
                (double)result.right_eye.center.x, (double)result.right_eye.center.y);
    }
    if (result.has_gaze) {
        fprintf(stderr, ", gaze yaw %.1f pitch %.1f", (double)result.gaze_yaw_deg,
                (double)result.gaze_pitch_deg);
    }
    fprintf(stderr, "\n");

    if (gaze_session_new("c-example", NULL, &session) != GAZE_OK ||
        gaze_session_push(session, tracker) != GAZE_OK ||
        gaze_session_finish_json(session, &report) != GAZE_OK) {
        fprintf(stderr, "session: %s\n", gaze_last_error_message());
        goto done;
    }
    printf("%s\n", report);
    status = 0;

done:
    gaze_string_free(json);
    gaze_string_free(report);
    gaze_session_free(session);
    gaze_tracker_free(bad);
    gaze_tracker_free(tracker);
    free(img.pixels);
    return status;
}
