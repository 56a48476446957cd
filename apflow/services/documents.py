"""Files uploaded on a placement (signed documents); kept in the database with the placement's records."""
from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import undefer

from apflow.clock import clock
from apflow.errors import Invalid, NotFound
from apflow.placements import cp_file
from apflow.store.models import Document, Instance, User

from . import disclosure, permissions
from .core import Core

MAX_BYTES = 10 * 1024 * 1024
ALLOWED_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/heic",
                 "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "text/plain"}


def upload(core: Core, user: User, instance_id: int, task_id: str | None, filename: str, content_type: str, content: bytes,
           restricted: bool = False) -> int:
    """Store an uploaded file on an instance; restricted: a child-protection attachment from its first moment (R81)."""
    checked = checked_file(filename, content_type, content)
    with core.db.session() as session:
        instance = session.get(Instance, instance_id)
        if instance is None or not permissions.can(user, "instance.view", instance, session):
            raise NotFound("There is no such placement that you can see.")
        return add(session, user, instance_id, task_id, *checked, restricted=restricted).id


def checked_file(filename: str, content_type: str, content: bytes) -> tuple[str, str, bytes]:
    """The file's safe name, its type and content, or Invalid naming what is wrong with it."""
    if not content:
        raise Invalid("The file is empty.", {"file": ["Choose a file to upload."]})
    if len(content) > MAX_BYTES:
        raise Invalid("The file is larger than 10 MB.", {"file": ["Upload a file of 10 MB or less (scan at a lower resolution)."]})
    content_type = (content_type or "").split(";")[0].strip().lower()
    if content_type not in ALLOWED_TYPES:
        raise Invalid("Upload a PDF, an image (PNG, JPEG, HEIC), a Word document or a text file.", {"file": ["That kind of file is not accepted."]})
    name = (filename or "document").replace("\\", "/").rsplit("/", 1)[-1][:255] or "document"
    return name, content_type, content


def add(session, user: User, instance_id: int, task_id: str | None, name: str, content_type: str, content: bytes,
        restricted: bool = False) -> Document:
    """A checked file stored in the caller's transaction (a building block: the caller has checked who may add it)."""
    document = Document(instance_id=instance_id, task_id=task_id, filename=name, content_type=content_type, size=len(content),
                        sha256=hashlib.sha256(content).hexdigest(), content=content, uploaded_by=user.id, uploaded_at=clock.now(),
                        restricted=restricted)
    session.add(document)
    session.flush()
    return document


def download(core: Core, user: User, instance_id: int, document_id: int) -> Document:
    with core.db.session() as session:
        document = session.scalar(select(Document).options(undefer(Document.content)).where(Document.id == document_id, Document.instance_id == instance_id))
        instance = session.get(Instance, instance_id)
        if (document is None or instance is None or not permissions.can(user, "instance.view", instance, session)
                or not disclosure.may_open(session, user, document, disclosure.view(core, session, user, instance))):
            raise NotFound("There is no such document that you can see.")
        if document.restricted:
            cp_file.log_document_read(session, user, document)
        return document


def belongs_to(session, document_id: int, instance_id: int) -> bool:
    return session.scalar(select(Document.id).where(Document.id == document_id, Document.instance_id == instance_id)) is not None
