# Asciidoctor extension for the HTML reference (NghttpwManPages.cmake):
# a page named in running text as a man page reference, like
# nghttpw_aio_alloc(3), becomes a link to that page's HTML when man/ has
# the page.  Only the body is touched, and there neither tags, nor text
# already inside a link, nor the page's references to itself.
require 'asciidoctor/extensions'

class NghttpwManLinks < Asciidoctor::Extensions::Postprocessor
  REF = /\b(nghttpw[A-Za-z0-9_-]*)\(([1-9])\)/
  # Whole links, then any other tag: what the split leaves between them
  # is text.
  PIECES = %r{(<a\b[^>]*>.*?</a>|<[^>]+>)}m

  def process(document, output)
    head, sep, body = output.partition(/<body\b/)
    return output if sep.empty?

    head + sep + link_refs(body, document.attr('docdir'), document.attr('docname'))
  end

  private

  def link_refs(html, dir, self_name)
    html.split(PIECES).map do |piece|
      next piece if piece.start_with?('<')

      piece.gsub(REF) do
        name, sect = Regexp.last_match(1), Regexp.last_match(2)
        if name != self_name && File.exist?(File.join(dir, "#{name}.adoc"))
          %(<a href="#{name}.html">#{name}(#{sect})</a>)
        else
          Regexp.last_match(0)
        end
      end
    end.join
  end
end

Asciidoctor::Extensions.register do
  postprocessor NghttpwManLinks
end
