"""Lesson reports, lesson materials and staff-recorded pupil views: the records and the rules about them (R7, R63,
R72, R115). Functions here take the caller's session and never decide who may call them (services/lessons.py does).

A lesson report belongs to one timetabled session on one school day; engagement is scored 1-5 on five measures with
plain words for every score. Repeated low engagement opens one review per episode. Materials reach parents only once
the school has checked them.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from .models import EngagementReview, LessonMaterial, LessonReport, Placement, TimetableSession

MEASURES = ("participation", "behaviour", "relationships", "progress", "wellbeing")
MEASURE_TITLES = {"participation": "Taking part", "behaviour": "Behaviour", "relationships": "Getting on with others",
                  "progress": "Progress", "wellbeing": "Wellbeing"}
# plain words for every score of every measure, read by tutors choosing a score and by families reading it
LABELS = {
    "participation": {1: "Did not take part", 2: "Took a little part", 3: "Took part with encouragement",
                      4: "Took part well", 5: "Took a full part"},
    "behaviour": {1: "Very difficult", 2: "Often difficult", 3: "Mostly settled", 4: "Good", 5: "Excellent"},
    "relationships": {1: "Did not engage with others", 2: "Found it hard to get on", 3: "Got on with some support",
                      4: "Got on well", 5: "Very positive with others"},
    "progress": {1: "No progress today", 2: "A little progress", 3: "Some progress", 4: "Good progress",
                 5: "Excellent progress"},
    "wellbeing": {1: "Very unhappy or upset", 2: "Low", 3: "OK", 4: "Happy", 5: "Very happy and relaxed"},
}

# Repeated low engagement (R72): a review opens when LOW_AVERAGE_COUNT of the last LOW_AVERAGE_WINDOW reports have an
# average score at or below LOW_AVERAGE, or wellbeing is at LOW_WELLBEING in LOW_WELLBEING_RUN reports running.
LOW_AVERAGE = 2.0
LOW_AVERAGE_COUNT = 3
LOW_AVERAGE_WINDOW = 5
LOW_WELLBEING = 1
LOW_WELLBEING_RUN = 2
# a report can be corrected until the end of the next school day after the session, then it is locked
EDITABLE_SCHOOL_DAYS = 1

MATERIAL_KINDS = {"plan": "Lesson plan", "material": "Lesson material"}
MATERIAL_STATUSES = {"awaiting_check": "Waiting for the school to check", "checked": "Checked by the school",
                     "sent_back": "Sent back by the school"}


def engagement(report: LessonReport) -> dict:
    return {m: getattr(report, m) for m in MEASURES}


def labels(scores: dict) -> dict:
    return {m: LABELS[m].get(scores.get(m), "") for m in MEASURES if scores.get(m) is not None}


def average(report: LessonReport) -> float:
    return sum(engagement(report).values()) / len(MEASURES)


def low_engagement_reason(recent: list[LessonReport]) -> str | None:
    """Why recent reports (newest first) show repeated low engagement, in plain words, or None."""
    window = recent[:LOW_AVERAGE_WINDOW]
    low = [r for r in window if average(r) <= LOW_AVERAGE]
    if len(low) >= LOW_AVERAGE_COUNT:
        return (f"Low engagement in {len(low)} of the last {len(window)} lesson reports (average score {LOW_AVERAGE:g} or "
                f"less out of 5), most recently on {low[0].day.strftime('%d %B %Y').lstrip('0')}.")
    run = recent[:LOW_WELLBEING_RUN]
    if len(run) == LOW_WELLBEING_RUN and all(r.wellbeing <= LOW_WELLBEING for r in run):
        return (f"Wellbeing was scored '{LABELS['wellbeing'][LOW_WELLBEING]}' in the last {LOW_WELLBEING_RUN} lesson "
                "reports running.")
    return None


def recent_reports(session, placement_id: int, limit: int = LOW_AVERAGE_WINDOW) -> list[LessonReport]:
    return list(session.scalars(select(LessonReport).where(LessonReport.placement_id == placement_id)
                                .order_by(LessonReport.day.desc(), LessonReport.starts.desc()).limit(limit)))


def open_episode(session, placement_id: int) -> EngagementReview | None:
    return session.scalar(select(EngagementReview).where(EngagementReview.placement_id == placement_id,
                                                         EngagementReview.closed_at.is_(None)))


def editable_until(calendar, day: date) -> datetime:
    """The moment a report of a session on `day` locks: the end of the next school day (after a holiday, the first
    school day back)."""
    return datetime.combine(calendar.add_school_days(day, EDITABLE_SCHOOL_DAYS), calendar.day_end, tzinfo=calendar.zone)


def sessions_on(session, placement_ids: list[int], day: date) -> list[TimetableSession]:
    if not placement_ids:
        return []
    return list(session.scalars(select(TimetableSession).where(TimetableSession.placement_id.in_(placement_ids),
                                                               TimetableSession.weekday == day.weekday())
                                .order_by(TimetableSession.starts)))


def report_dict(report: LessonReport, school: bool = True) -> dict:
    """A report as the API and pages read it; `school` adds the comment meant for the school only."""
    scores = engagement(report)
    result = {"id": report.id, "placement_id": report.placement_id, "day": report.day.isoformat(), "starts": report.starts,
              "ends": report.ends, "activity": report.activity, "covered": report.covered, "engagement": scores,
              "labels": labels(scores), "average": round(average(report), 1), "by": report.written_by,
              "written_at": report.written_at.isoformat(),
              "changed_at": report.changed_at.isoformat() if report.changed_at else None, "changed_by": report.changed_by}
    if school:
        result["school_comment"] = report.school_comment
    return result


def material_url(material: LessonMaterial) -> str | None:
    return f"/lessons/materials/{material.id}/file" if material.document_id else None


def material_dict(material: LessonMaterial, filename: str | None = None) -> dict:
    return {"id": material.id, "placement_id": material.placement_id, "kind": material.kind,
            "kind_label": MATERIAL_KINDS.get(material.kind, material.kind), "title": material.title,
            "for_date": material.for_date.isoformat(), "whole_week": material.whole_week, "description": material.description,
            "link": material.link or None, "document_url": material_url(material), "filename": filename,
            "confidentiality_agreed": material.confidentiality_agreed, "status": material.status,
            "status_label": MATERIAL_STATUSES.get(material.status, material.status),
            "shared_at": material.shared_at.isoformat(), "shared_by": material.shared_by,
            "checked_at": material.checked_at.isoformat() if material.checked_at else None, "checked_by": material.checked_by,
            "sent_back_reason": material.sent_back_reason}


# -- for the families' pages (another part of the product builds them around these) --------------------------------


def family_lesson_reports(session, placement_id: int, limit: int = 20) -> list[dict]:
    """A placement's lesson reports as a family reads them, newest first: what was covered and how it went, with the
    words for each score; never the comment meant for the school. The caller has checked the reader is the pupil's
    parent or carer."""
    rows = session.scalars(select(LessonReport).where(LessonReport.placement_id == placement_id)
                           .order_by(LessonReport.day.desc(), LessonReport.starts.desc()).limit(limit))
    return [{"day": r.day.isoformat(), "starts": r.starts, "ends": r.ends, "activity": r.activity, "covered": r.covered,
             "engagement": engagement(r), "labels": labels(engagement(r)), "by": r.written_by} for r in rows]


def family_materials(session, placement_id: int) -> list[dict]:
    """The lesson plans and materials the school has checked, latest lesson first, as a family reads them: a link,
    or `document_url` to download the file (the route checks the reader is a linked parent or carer)."""
    rows = session.scalars(select(LessonMaterial).where(LessonMaterial.placement_id == placement_id,
                                                        LessonMaterial.status == "checked")
                           .order_by(LessonMaterial.for_date.desc(), LessonMaterial.id.desc()))
    return [{"id": m.id, "title": m.title, "kind": MATERIAL_KINDS.get(m.kind, m.kind), "for_date": m.for_date.isoformat(),
             "whole_week": m.whole_week, "description": m.description, "link": m.link or None,
             "document_url": material_url(m)} for m in rows]


def placement_of_material(session, material_id: int) -> tuple[LessonMaterial, Placement] | tuple[None, None]:
    material = session.get(LessonMaterial, material_id)
    if material is None:
        return None, None
    return material, session.get(Placement, material.placement_id)
