"""The declarative base every table module shares (one metadata, one migration chain)."""

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
