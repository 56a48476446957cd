"""A world for the trends scenarios and the trends browser test (R112): The Nest School's pupils Jordan (Year 10,
Bridges Learning, attendance and SEND, part-time AP, commissioned by the LA, back to school at Easter), Sam (Year 8,
Greenfield Farm, medical, vocational) and Casey (Year 11, Bridges, child protection, full-time AP, removed in an
emergency in December, NEET); and Hilltop School's Alex at Bridges. Records are written straight to the tables (the
steps that write them are proven elsewhere) so each figure is known. Needs the demo term dates and any deployed
process version (the placements' instances only link organisations)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select

from apflow.clock import clock
from apflow.placements.models import (
    Assessment,
    Destination,
    DestinationFollowUp,
    EffectivenessReport,
    LessonReport,
    Placement,
    PlacementExit,
    Provider,
    Pupil,
    PurchaseOrder,
    Qualification,
    RegisterMark,
)
from apflow.services import users
from apflow.store.models import Instance, Organisation, ProcessVersion
from tests.support import PASSWORD

NEST, HILLTOP, LA, BRIDGES, FARM = "The Nest School", "Hilltop School", "Northshire County Council", "Bridges Learning", "Greenfield Farm"
NOW = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)  # Summer 2026 has begun
T0 = datetime(2025, 9, 1, tzinfo=timezone.utc)
PEOPLE = [("coord", "coordinator", NEST), ("head", "headteacher", NEST), ("senco", "senco", NEST), ("dsl", "dsl", NEST),
          ("boss", "manager", NEST), ("la1", "la_officer", LA), ("tutor", "provider", BRIDGES), ("parent1", "parent", None),
          ("othercoord", "coordinator", HILLTOP)]


def _mark(pid, day, status=None, code=None, starts="09:30"):
    return RegisterMark(placement_id=pid, day=day, starts=starts, ends="14:30", half="AM+PM",
                        starts_at=datetime.combine(day, datetime.min.time(), tzinfo=timezone.utc), status=status, code=code,
                        reason="unknown" if status == "absent" else "", note="", marked_by="", coded_by="")


def _lesson(pid, day, p, b, r, g, w):
    return LessonReport(placement_id=pid, day=day, starts="09:30", ends="14:30", covered="Maths", participation=p, behaviour=b,
                        relationships=r, progress=g, wellbeing=w, written_at=T0, written_by="Tutor")


def _termly(pid, day, on_track, kind="termly"):
    return Assessment(placement_id=pid, kind=kind, assessed_on=day, content={"on_track": on_track} if on_track else {"english": "3"},
                      recorded_at=T0, recorded_by="coord")


def _order(pid, day, hours):
    """An order worth £120 for each hour a week it commissions, so costs follow from the hours."""
    return PurchaseOrder(placement_id=pid, number=f"PO-{pid}-{day}", issued_by="la", hours_per_week=hours, issued_on=day,
                         value_pence=round(hours * 12_000) if hours is not None else None,
                         recorded_at=T0, recorded_by="la1")


def build(core) -> tuple[dict, dict]:
    """(people by username, ids of the placements and providers), with the clock at NOW."""
    clock.freeze(NOW)
    for name, kind in [(NEST, "school"), (HILLTOP, "school"), (LA, "la"), (BRIDGES, "provider"), (FARM, "provider")]:
        users.ensure_organisation(core, name, kind)
    people = {n: users.create_user(core, n, PASSWORD, [role], organisations=[org] if org else []) for n, role, org in PEOPLE}
    with core.db.session() as s:
        orgs = dict(s.execute(select(Organisation.name, Organisation.id)).all())
        providers = {n: Provider(name=n, address="", contact={}, status="approved", created_at=T0) for n in (BRIDGES, FARM)}
        s.add_all(providers.values())
        s.flush()
        version = s.scalar(select(ProcessVersion.id).limit(1))

        def placement(ref, born, school, commissioner, provider, reasons, kind, start, end=None, status="active"):
            instance = Instance(process_version_id=version, process_id="placement", status="running", state={}, created_at=T0,
                                updated_at=T0, organisation_id=orgs[commissioner], provider_organisation_id=orgs[provider])
            pupil = Pupil(ref=ref, name=f"Pupil {ref}", date_of_birth=born, school=school, created_at=T0, organisation_id=orgs[school])
            s.add_all([instance, pupil])
            s.flush()
            p = Placement(pupil_id=pupil.id, provider_id=providers[provider].id, instance_id=instance.id, status=status,
                          referred_by="school", reasons=reasons, placement_type=kind, start_date=start, end_date=end,
                          created_at=T0, updated_at=T0)
            s.add(p)
            s.flush()
            return p.id

        jordan = placement("J", date(2011, 5, 4), NEST, LA, BRIDGES, ["attendance", "send"], "part_time_ap", date(2025, 9, 8),
                           date(2026, 3, 20), "ended")
        sam = placement("S", date(2012, 10, 1), NEST, NEST, FARM, ["medical"], "vocational", date(2026, 1, 12))
        casey = placement("C", date(2010, 1, 10), NEST, NEST, BRIDGES, ["cp"], "full_time_ap", date(2025, 9, 8), date(2025, 12, 10),
                          "removed")
        alex = placement("A", date(2011, 3, 3), HILLTOP, HILLTOP, BRIDGES, ["attendance"], "part_time_ap", date(2025, 9, 8),
                         date(2026, 3, 1), "ended")
        s.add_all([
            # attendance, Autumn: Jordan 3 of 4 counted (code B, present, late attended; code I absent; Y1 and unmarked not counted)
            _mark(jordan, date(2025, 9, 8), "present", "B"), _mark(jordan, date(2025, 9, 9), "present"),
            _mark(jordan, date(2025, 9, 10), "absent", "I"), _mark(jordan, date(2025, 9, 11), "late"),
            _mark(jordan, date(2025, 9, 12), "absent", "Y1"), _mark(jordan, date(2025, 9, 15)),
            # Spring: Jordan 0 of 2 (absent uncoded; reported present but coded N by the school), Sam 2 of 2
            _mark(jordan, date(2026, 1, 12), "absent"), _mark(jordan, date(2026, 1, 13), "present", "N"),
            _mark(sam, date(2026, 1, 12), "present", "B"), _mark(sam, date(2026, 1, 13), "late", "B"),
            # Hilltop's pupil, never in The Nest's figures
            *[_mark(alex, date(2025, 9, d), "absent", "O") for d in (8, 9, 10)],
            # lesson reports: Autumn Jordan's two, Spring Sam's one
            _lesson(jordan, date(2025, 9, 8), 3, 4, 2, 3, 4), _lesson(jordan, date(2025, 9, 9), 5, 4, 4, 5, 2),
            _lesson(sam, date(2026, 1, 12), 2, 2, 2, 2, 1), _lesson(alex, date(2025, 9, 8), 5, 5, 5, 5, 5),
            # termly assessments (the baseline has no on-track answer and is not one)
            _termly(jordan, date(2025, 12, 1), "yes"), _termly(jordan, date(2026, 3, 2), "partly"), _termly(sam, date(2026, 3, 3), "no"),
            _termly(jordan, date(2025, 9, 20), None, kind="baseline"), _termly(alex, date(2025, 12, 1), "no"),
            # the providers' termly reports on each target
            EffectivenessReport(placement_id=jordan, provider_id=providers[BRIDGES].id, term="Autumn 2025", what_worked="Small groups",
                                changes="none", recorded_at=T0, recorded_by_name="Tutor",
                                targets=[{"target": "a", "status": "met"}, {"target": "b", "status": "partly"},
                                         {"target": "c", "status": "not_met"}, {"target": "d", "status": "met"}]),
            EffectivenessReport(placement_id=sam, provider_id=providers[FARM].id, term="Spring 2026", what_worked="Animal care",
                                changes="none", recorded_at=T0, recorded_by_name="Farmer", targets=[{"target": "a", "status": "met"}]),
            EffectivenessReport(placement_id=alex, provider_id=providers[BRIDGES].id, term="Autumn 2025", what_worked="Nothing much",
                                changes="more", recorded_at=T0, recorded_by_name="Tutor", targets=[{"target": "a", "status": "not_met"}]),
            # exits and destinations: Casey removed in December (NEET), Jordan back to school at Easter, Alex NEET (Hilltop)
            PlacementExit(placement_id=casey, kind="emergency", started_on=date(2025, 12, 10), content={}, recorded_at=T0),
            PlacementExit(placement_id=jordan, kind="planned", started_on=date(2026, 3, 6), ends_on=date(2026, 3, 20), content={},
                          recorded_at=T0),
            Destination(placement_id=casey, pupil_id=_pupil(s, casey), kind="neet", recorded_at=T0),
            Destination(placement_id=jordan, pupil_id=_pupil(s, jordan), kind="same_school", starts_on=date(2026, 4, 13), recorded_at=T0),
            Destination(placement_id=alex, pupil_id=_pupil(s, alex), kind="neet", recorded_at=T0),
            # purchase orders
            _order(jordan, date(2025, 9, 4), 15), _order(casey, date(2025, 9, 5), 25), _order(jordan, date(2026, 1, 6), 10),
            _order(sam, date(2026, 1, 8), 6), _order(alex, date(2025, 9, 4), 30),
            # examination entries and results (R15): Jordan's two in the autumn, results in the spring (one gained); Sam's
            # entered in the spring, no result yet
            _exam(s, jordan, "Maths", date(2025, 11, 1), date(2026, 1, 15), True), _exam(s, jordan, "English", date(2025, 11, 1),
                                                                                       date(2026, 1, 15), False),
            _exam(s, sam, "Animal care", date(2026, 2, 1), None, None), _exam(s, alex, "Maths", date(2025, 11, 1), date(2026, 1, 15), True),
        ])
        s.flush()
        # the sustained checks (R101): Casey's (autumn) not sustained at 3 months; Jordan's (spring) sustained at 3 months,
        # the 6-month check opened and not yet answered; Hilltop's Alex sustained
        destination = {d.placement_id: d.id for d in s.scalars(select(Destination))}
        s.add_all([_check(destination[casey], casey, 3, False), _check(destination[jordan], jordan, 3, True),
                   _check(destination[jordan], jordan, 6, None), _check(destination[alex], alex, 3, True)])
        ids = {"jordan": jordan, "sam": sam, "casey": casey, "alex": alex, "bridges": providers[BRIDGES].id, "farm": providers[FARM].id}
    return people, ids


def _exam(s, pid, subject, entered, result_on, gained):
    return Qualification(placement_id=pid, pupil_id=_pupil(s, pid), subject=subject, kind="gcse", level="level_2", entered_on=entered,
                         result="4" if gained else ("2" if gained is False else ""), gained=gained, result_on=result_on,
                         recorded_at=T0, recorded_by="coord")


def _check(destination_id, pid, months, sustained):
    return DestinationFollowUp(destination_id=destination_id, placement_id=pid, months=months, due_on=date(2026, 4, 1), opened_at=T0,
                               sustained=sustained, checked_on=date(2026, 4, 2) if sustained is not None else None)


def _pupil(s, placement_id):
    return s.get(Placement, placement_id).pupil_id


