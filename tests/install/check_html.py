#!/usr/bin/env python3
"""Checks the installed HTML reference (share/doc/nghttpw/html) as its
readers use it:

  - one NAME.html for every man/NAME.adoc, no other page but index.html,
    and the stylesheet the pages link;
  - index.html links every page, under the heading of the page's section;
  - every link between pages leads to a file that is there (and to an id
    that is there, for a link with #fragment), and a link whose text is a
    page reference, NAME(N), leads to the page with that title;
  - every page reference in running text outside a link is a link, unless
    it is the page's own name or not an nghttpw page (malloc(3));
  - nothing is fetched from the web (fonts, stylesheets, scripts).

usage: check_html.py HTML_DIR MAN_DIR
Prints what is wrong and exits 1, or exits 0.
"""
import glob
import html.parser
import os
import re
import sys

REF = re.compile(r"\b(nghttpw[A-Za-z0-9_-]*)\(([1-9])\)")


class Page(html.parser.HTMLParser):
    """What one HTML file has: its title, ids, links (href, text), the
    text outside links in its body, and the section headings of the
    links (for the index)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.ids = set()
        self.links = []        # (href, text, heading above it)
        self.loose_text = []   # body text outside <a>
        self.remote = []       # src/href of <link>, <script>, <img> on the web
        self._in = []
        self._href = None
        self._text = ""
        self._heading = ""
        self._h2 = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag in ("link", "script", "img"):
            url = a.get("href") or a.get("src") or ""
            if re.match(r"^(https?:)?//", url):
                self.remote.append(url)
        if tag == "a" and "href" in a:
            self._href = a["href"]
            self._text = ""
        if tag == "h2":
            self._h2 = ""
        self._in.append(tag)

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text, self._heading))
            self._href = None
        if tag == "h2" and self._h2 is not None:
            self._heading = self._h2.strip()
            self._h2 = None
        while self._in:
            if self._in.pop() == tag:
                break

    def handle_data(self, data):
        if "title" in self._in:
            self.title += data
        if self._h2 is not None:
            self._h2 += data
        if self._href is not None:
            self._text += data
        elif "body" in self._in and "h1" not in self._in:
            self.loose_text.append(data)


def parse(path):
    p = Page()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    return p


def check(html_dir, man_dir):
    problems = []
    want = {}
    for adoc in glob.glob(os.path.join(man_dir, "*.adoc")):
        with open(adoc, encoding="utf-8") as f:
            title = f.readline()
        m = re.match(r"^=\s+(\S+)\(([1-9])[a-z]*\)\s*$", title)
        if m is None:
            problems.append("%s: no page title" % adoc)
            continue
        want[os.path.basename(adoc)[:-5] + ".html"] = (m.group(1), m.group(2))
    have = {os.path.basename(p) for p in glob.glob(os.path.join(html_dir, "*.html"))}
    for name in sorted(set(want) - have):
        problems.append("%s: missing" % name)
    for name in sorted(have - set(want) - {"index.html"}):
        problems.append("%s: a page no man/*.adoc makes" % name)
    if "index.html" not in have:
        problems.append("index.html: missing")
    pages = {name: parse(os.path.join(html_dir, name)) for name in have}

    for name, page in sorted(pages.items()):
        for url in page.remote:
            problems.append("%s: fetches %s from the web" % (name, url))
        for href, text, _ in page.links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", href):
                continue  # a link out (mailto:, https:), not between pages
            target, _, frag = href.partition("#")
            target = target or name
            if target not in pages:
                if not os.path.exists(os.path.join(html_dir, target)):
                    problems.append("%s: link to %s, which is not there"
                                    % (name, href))
                continue
            if frag and frag not in pages[target].ids:
                problems.append("%s: link to %s, which has no id %s"
                                % (name, target, frag))
            m = REF.fullmatch(text.strip())
            if m and target in want and want[target] != m.groups():
                problems.append("%s: link '%s' leads to %s, which is %s(%s)"
                                % (name, text.strip(), target,
                                   *want[target]))
        own = want.get(name, (None, None))[0]
        for chunk in page.loose_text:
            for m in REF.finditer(chunk):
                if m.group(1) == own:
                    continue
                problems.append("%s: '%s' is not a link%s" % (
                    name, m.group(0),
                    "" if m.group(1) + ".html" in pages
                    else " (there is no such page)"))
        for css in re.findall(r'<link[^>]*href="([^"]+\.css)"',
                              open(os.path.join(html_dir, name),
                                   encoding="utf-8").read()):
            if not os.path.exists(os.path.join(html_dir, css)):
                problems.append("%s: stylesheet %s is not there" % (name, css))

    index = pages.get("index.html")
    if index is not None:
        listed = {}
        for href, text, heading in index.links:
            listed[href] = heading
        for name, (_, sect) in sorted(want.items()):
            if name not in listed:
                problems.append("index.html: does not list %s" % name)
            elif not listed[name].startswith("Section %s" % sect):
                problems.append("index.html: lists %s under '%s', not "
                                "section %s" % (name, listed[name], sect))
    return problems, len(want)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    problems, n = check(sys.argv[1], sys.argv[2])
    for p in problems:
        print("check_html: " + p, file=sys.stderr)
    if problems:
        return 1
    print("check_html: %d pages and the index; every link leads to a page"
          % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
