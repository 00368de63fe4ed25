/*
 * Media types by file name extension, for the file and directory
 * handlers.  nng's table is kept whole, with three changes: text types
 * say that they are UTF-8 (text/markdown requires a charset, RFC 7763),
 * .js is text/javascript (application/javascript is obsolete, RFC 9239),
 * and .mp3 is audio/mpeg (RFC 3003; nng's audio/mpeg3 is registered
 * nowhere).  The web's common types nng lacks are added.  As in nng, a
 * file named README is text; anything else unknown is served as
 * application/octet-stream, which browsers download rather than
 * interpret.
 */
#include <string.h>
#include <strings.h>

#include "http/http_file.h"

#define UTF8 "; charset=utf-8"

typedef struct {
	const char *ext; /* lower case, without the dot */
	const char *type;
} mime_entry;

/* Sorted by extension (the lookup is a binary search). */
static const mime_entry mime_table[] = {
	{ "7z", "application/x-7z-compressed" },
	{ "aac", "audio/aac" },
	{ "ai", "application/postscript" },
	{ "aif", "audio/aiff" },
	{ "aiff", "audio/aiff" },
	{ "apng", "image/apng" },
	{ "atom", "application/atom+xml" },
	{ "au", "audio/basic" },
	{ "avi", "video/avi" },
	{ "avif", "image/avif" },
	{ "bin", "application/octet-stream" },
	{ "bmp", "image/bmp" },
	{ "bz2", "application/x-bzip2" },
	{ "css", "text/css" UTF8 },
	{ "csv", "text/csv" UTF8 },
	{ "eps", "application/postscript" },
	{ "flac", "audio/flac" },
	{ "gif", "image/gif" },
	{ "gz", "application/gzip" },
	{ "htm", "text/html" UTF8 },
	{ "html", "text/html" UTF8 },
	{ "ico", "image/x-icon" },
	{ "ics", "text/calendar" UTF8 },
	{ "jpeg", "image/jpeg" },
	{ "jpg", "image/jpeg" },
	{ "js", "text/javascript" UTF8 },
	{ "json", "application/json" },
	{ "jsonld", "application/ld+json" },
	{ "m4a", "audio/mp4" },
	{ "map", "application/json" },
	{ "md", "text/markdown" UTF8 },
	{ "mjs", "text/javascript" UTF8 },
	{ "mp2", "video/mpeg" },
	{ "mp3", "audio/mpeg" },
	{ "mp4", "video/mp4" },
	{ "mpeg", "video/mpeg" },
	{ "mpg", "video/mpeg" },
	{ "oga", "audio/ogg" },
	{ "ogg", "audio/ogg" },
	{ "ogv", "video/ogg" },
	{ "opus", "audio/ogg" },
	{ "otf", "font/otf" },
	{ "pdf", "application/pdf" },
	{ "png", "image/png" },
	{ "ps", "application/postscript" },
	{ "rss", "application/rss+xml" },
	{ "rtf", "text/rtf" },
	{ "svg", "image/svg+xml" },
	{ "tar", "application/x-tar" },
	{ "text", "text/plain" UTF8 },
	{ "tgz", "application/gzip" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "toml", "application/toml" },
	{ "ttf", "font/ttf" },
	{ "txt", "text/plain" UTF8 },
	{ "wasm", "application/wasm" },
	{ "wav", "audio/wav" },
	{ "webm", "video/webm" },
	{ "webmanifest", "application/manifest+json" },
	{ "webp", "image/webp" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "xhtml", "application/xhtml+xml" },
	{ "xml", "application/xml" },
	{ "xz", "application/x-xz" },
	{ "yaml", "application/yaml" },
	{ "yml", "application/yaml" },
	{ "zip", "application/zip" },
};

#define MIME_DEFAULT "application/octet-stream"

const char *
http_mime_type(const char *name)
{
	const char *base, *dot;
	size_t      lo, hi;

	if (name == NULL) {
		return MIME_DEFAULT;
	}
	base = strrchr(name, '/');
	base = (base != NULL) ? base + 1 : name;
	if (strcasecmp(base, "README") == 0) {
		return "text/plain" UTF8;
	}
	dot  = strrchr(base, '.');
	/* No extension, or a name like ".profile" that is all extension. */
	if (dot == NULL || dot == base || dot[1] == '\0') {
		return MIME_DEFAULT;
	}
	dot++;
	lo = 0;
	hi = sizeof(mime_table) / sizeof(mime_table[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    c   = strcasecmp(dot, mime_table[mid].ext);
		if (c == 0) {
			return mime_table[mid].type;
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return MIME_DEFAULT;
}
