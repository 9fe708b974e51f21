"""PATCH bodies: a field left out keeps its value; `null` only clears a field that may be empty.

A PATCH model declares every field optional so that it can be left out; without this base, a
`null` sent for a required field (a view's filters, a list's addresses) would be saved and break
every later read. Subclasses name the fields `null` may clear in `clearable`; for all others
`null` is a 422 and the OpenAPI schema does not offer it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError


class PatchModel(BaseModel):
    """Changes to a resource: only the fields sent change; `null` only for `clearable` ones."""

    model_config = ConfigDict(extra="forbid")

    clearable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.clearable:
            raise PydanticCustomError(
                "patch_null", "cannot be null; leave the field out to keep its value"
            )
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls.clearable:
                continue
            options = prop.get("anyOf")
            if isinstance(options, list):
                kept = [o for o in options if o != {"type": "null"}]
                if len(kept) == 1:
                    del prop["anyOf"]
                    prop.update(kept[0])
                else:
                    prop["anyOf"] = kept
            if "default" in prop and prop["default"] is None:
                del prop["default"]
        return schema
