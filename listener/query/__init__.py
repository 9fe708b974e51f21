"""One query language for everything that selects mentions (see docs/QUERY.md).

`parse` reads a query into a small tree (`ast`), with errors that name the column and what was
expected; `sql.where_clause` turns the tree into a WHERE clause that gives the same results on
PostgreSQL and SQLite; `matcher.matches` applies it to one mention in memory (a source's
keep-filter, before anything is stored).
"""

from listener.query.ast import FIELDS, Node, fields_used, render
from listener.query.matcher import MentionFacts, matches
from listener.query.parser import MAX_QUERY_LENGTH, QuerySyntaxError, check, parse, readable_query
from listener.query.sql import where_clause

__all__ = [
    "FIELDS",
    "MAX_QUERY_LENGTH",
    "MentionFacts",
    "Node",
    "QuerySyntaxError",
    "check",
    "fields_used",
    "matches",
    "parse",
    "readable_query",
    "render",
    "where_clause",
]
