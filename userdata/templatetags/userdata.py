"""`{% userdata_field %}`: the user-data field on any page of the project."""

from django import template

from ..field import field_context

register = template.Library()


@register.inclusion_tag("userdata/field.html", takes_context=True)
def userdata_field(context):
    """The field for the page's user; a re-rendered save (error or conflict) passes its own state
    as `userdata` in the context."""
    given = context.get("userdata")
    if isinstance(given, dict):
        return given
    request = context["request"]
    return field_context(request)
