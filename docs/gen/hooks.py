"""MkDocs hooks for the equimol site.

Two habits of equimol's docstrings that Markdown would misread, handled by a Markdown extension
that this hook adds (used by the pages and by mkdocstrings for the docstrings alike):

* Sphinx roles (``:func:`load```, ``:data:`UNITS```) would show literally: they become inline code.
* Command synopses name options in brackets (``equimol train CONFIG [--set k=v] [--resume]``);
  ``[a] [--resume]`` is Markdown's reference-link syntax, which the strict build reports as an
  unknown cross-reference. An opening bracket before an option (``[-x``, ``[--x``) outside code is
  escaped, so it stays a bracket.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as etree

from markdown import Extension
from markdown.inlinepatterns import InlineProcessor
from markdown.preprocessors import Preprocessor
from markdown.util import AtomicString
from mkdocs.plugins import event_priority

ROLE = r":(?:py:)?(?:func|class|data|mod|meth|attr|obj|exc|const|ref|term):`~?([^`]+)`"


class _RoleProcessor(InlineProcessor):
    def handleMatch(self, m, data):
        el = etree.Element("code")
        el.text = AtomicString(m.group(1))
        return el, m.start(0), m.end(0)


OPTION_BRACKET = re.compile(r"(?<!\\)\[(?=--?[A-Za-z])")
CODE_SPAN = re.compile(r"(`+).*?\1")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


class _OptionBrackets(Preprocessor):
    def run(self, lines):
        out, fence = [], None
        for line in lines:
            m = FENCE.match(line)
            if fence is None and m:
                fence = m.group(1)
            elif fence is not None and line.strip().startswith(fence):
                fence = None
            elif fence is None and not line.startswith(("    ", "\t")):
                parts, last = [], 0
                for span in CODE_SPAN.finditer(line):  # leave code spans alone
                    parts += [OPTION_BRACKET.sub(r"\\[", line[last : span.start()]), span.group(0)]
                    last = span.end()
                line = "".join(parts) + OPTION_BRACKET.sub(r"\\[", line[last:])
            out.append(line)
        return out


class SphinxRoles(Extension):
    def extendMarkdown(self, md):
        # before the backtick pattern (190), which would otherwise take the `name` part alone
        md.inlinePatterns.register(_RoleProcessor(ROLE, md), "sphinx_roles", 195)
        # after the fenced-code preprocessors of superfences (which stash code blocks away)
        md.preprocessors.register(_OptionBrackets(md), "option_brackets", 5)


@event_priority(100)  # before mkdocstrings copies the Markdown extensions for the docstrings
def on_config(config):
    config.markdown_extensions.append(SphinxRoles())
    return config
