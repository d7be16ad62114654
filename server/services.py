"""The domain services of one server process, wired to one store (their listeners: ``server/wiring.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts.codes import CodeLimits, ContactCodes, ContactProofs
from .accounts.directory import Directory
from .accounts.expiry import UnverifiedAccounts
from .accounts.identity import Identity
from .accounts.login_limits import LoginLimits
from .accounts.passwords import Passwords
from .accounts.sessions import Sessions
from .booking.bookings import Bookings
from .config import Settings
from .exams.catalog import Catalog
from .exams.enrolment import Enrolments
from .exams.proctors import ProctorAssignments
from .facecheck.appeal import AppealChecks
from .facecheck.checks import FaceChecks
from .facecheck.frames import FrameArchive
from .facecheck.gate import FaceGate
from .facecheck.pool import InferencePool
from .facecheck.references import References
from .facecheck.room_checks import RoomChecks
from .marking.interview_marks import InterviewMarks
from .marking.results import Results
from .marking.rubrics import Rubrics
from .marking.take_marks import TakeMarks
from .nodes.cluster import Cluster
from .notify.backends import build as build_notifier
from .queue.device import DevicePolicy
from .queue.waiting import WaitingQueue
from .recorded.artwork import ArtworkPhotos
from .recorded.grading import Grading
from .recorded.guided import GuidedSteps
from .recorded.question_media import MediaFiles
from .recorded.questions import QuestionBank
from .recorded.review import Reviews
from .recorded.sittings import Sittings
from .recorded.take_identity import TakeIdentity
from .recorded.uploads import Uploads
from .rooms.aux_tokens import AuxTokens
from .rooms.claims import PROCESS_ID
from .rooms.recordings import RecordingIndex
from .roster.book import RosterBook
from .roster.importer import RosterImporter
from .roster.photos import PhotoStore
from .roster.progress import ImportProgress
from .store.audit import Audit
from .store.base import Store
from .store.redis import ping


def code_limits(s: Settings) -> CodeLimits:
    """The contact codes' limits from the settings (docs/security.md "Contact codes and registration")."""
    return CodeLimits(
        s.code_ttl_s,
        s.code_max_attempts,
        s.code_resend_s,
        s.code_per_destination_day,
        s.code_per_address_hour,
        s.code_global_hour,
        s.register_per_address_hour,
        s.register_global_hour,
    )


@dataclass
class Services:
    store: Store
    passwords: Passwords
    directory: Directory
    unverified: UnverifiedAccounts
    sessions: Sessions
    login_limits: LoginLimits
    catalog: Catalog
    proctors: ProctorAssignments
    roster: RosterBook
    photos: PhotoStore
    importer: RosterImporter
    identity: Identity
    enrolments: Enrolments
    bookings: Bookings
    face_gate: FaceGate
    frame_archive: FrameArchive
    references: References
    face_checks: FaceChecks
    appeal_checks: AppealChecks
    queue: WaitingQueue
    recordings: RecordingIndex
    aux_tokens: AuxTokens
    audit: Audit
    import_progress: ImportProgress
    contact: ContactProofs  # contact codes: registration, password reset, changing the phone/email
    sittings: Sittings  # recorded exams: sittings and takes (docs/recorded.md)
    take_identity: TakeIdentity  # the submitted takes' frames against the roster photo (never blocking)
    grading: Grading  # graders of recorded subjects and the anonymous submissions they see
    rubrics: Rubrics  # subjects' rubrics (docs/marking.md)
    interview_marks: InterviewMarks  # live interviews' mark sheets per examiner
    take_marks: TakeMarks  # blind double marking of recorded submissions (docs/marking.md)
    results: Results  # an exam's results: final marks, lock, publication (docs/marking.md "Results")
    uploads: Uploads  # takes filmed offline and uploaded (docs/recorded.md "Upload takes")
    artwork: ArtworkPhotos  # artwork subjects: the photos of the finished work (docs/recorded.md "Artwork")
    reviews: Reviews  # one sitting as admins review it (videos, photos, code, face result, audit)
    room_checks: RoomChecks  # the room-entry face check of each live interview (fails closed)
    questions: QuestionBank  # recorded subjects' question banks (命题作答, docs/recorded.md "Question bank")
    guided: GuidedSteps  # guided subjects' steps (指定项目)
    question_files: MediaFiles  # the banks' and steps' files, content-addressed under data/questions
    cluster: Cluster  # the nodes: registry, placement, relay, other nodes' files (docs/nodes.md)
    face_problem: str = ""  # why the face check is not running, when it is not

    @classmethod
    def build(cls, store: Store, settings: Settings) -> Services:
        s = settings
        passwords = Passwords(
            s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism, s.argon2_concurrency, s.argon2_max_waiting
        )
        directory = Directory(store, passwords)
        catalog = Catalog(store)
        roster = RosterBook(store)
        photos = PhotoStore(s.photos_dir)
        enrolments = Enrolments(store, catalog, roster)
        face_gate = FaceGate(store, s.facecheck_strikes)
        archive = FrameArchive(s.data_dir / "faceframes")
        references = References(store, photos, None)
        queue = WaitingQueue(
            store,
            catalog,
            enrolments,
            DevicePolicy.parse(s.device_min_battery_pct, s.device_min_browsers),
            s.queue_early_entry_s,
            s.queue_grace_s,
            s.queue_face_pass_valid_s,
            s.timezone,
            process_id=PROCESS_ID,
            process_ttl_s=s.process_ttl_s,
            called_grace_s=s.queue_called_grace_s,
            presence_ttl_s=s.presence_ttl_s,
        )
        bookings = Bookings(store, catalog, s.timezone)
        recordings = RecordingIndex(store, s.recordings_dir, s.node_name, s.recordings_shared, PROCESS_ID)
        cluster = Cluster(store, s, PROCESS_ID)
        recordings.remote = cluster.files  # a file written on another node is fetched from it
        rubrics = Rubrics(store)
        sittings = Sittings(
            store,
            catalog,
            enrolments,
            face_gate,
            s.recordings_dir,
            s.queue_face_pass_valid_s,
            s.take_reconnect_grace_s,
            s.practice_keep_h,
            s.timezone,
        )
        face_checks = FaceChecks(
            store,
            None,
            enrolments,
            face_gate,
            references,
            archive,
            s.facecheck_max_frames,
            s.facecheck_challenge_ttl_s,
            s.queue_face_pass_valid_s,
            s.facecheck_max_frame_side,
            s.facecheck_attempts_per_window,
            s.facecheck_attempt_window_s,
        )
        grading, rubrics = Grading(store, catalog, recordings, s.timezone), Rubrics(store)
        interview_marks = InterviewMarks(store, catalog, rubrics, recordings)
        take_marks = TakeMarks(store, catalog, grading, rubrics, directory)
        question_files = MediaFiles(s.data_dir / "questions")
        services = cls(
            store=store,
            passwords=passwords,
            directory=directory,
            unverified=UnverifiedAccounts(store, s.unverified_account_days * 86400),
            sessions=Sessions(store, s.session_ttl_s),
            login_limits=LoginLimits(
                store,
                s.login_fail_limit_pair,
                s.login_fail_limit_account,
                s.login_fail_limit_address,
                s.login_window_s,
                s.login_account_window_s,
            ),
            catalog=catalog,
            proctors=ProctorAssignments(store),
            roster=roster,
            photos=photos,
            importer=RosterImporter(
                store, roster, catalog, photos, s.max_roster_rows, s.max_photo_bytes, references.prepare_if_available
            ),
            identity=Identity(store, roster),
            enrolments=enrolments,
            bookings=bookings,
            face_gate=face_gate,
            frame_archive=archive,
            references=references,
            face_checks=face_checks,
            appeal_checks=AppealChecks(face_checks, roster),
            queue=queue,
            recordings=recordings,
            aux_tokens=AuxTokens(store, s.aux_token_ttl_s, s.aux_max_devices),
            audit=Audit(store.redis, store.keys),
            import_progress=ImportProgress(store),
            contact=ContactProofs(
                store,
                directory,
                passwords,
                ContactCodes(
                    store,
                    code_limits(s),
                ),
                build_notifier(s),
                s.notify_site_name,
            ),
            sittings=sittings,
            take_identity=TakeIdentity(
                store,
                sittings,
                face_checks,
                directory,
                roster,
                recordings,
                s.take_identity_frames,
                s.take_identity_retry_s,
            ),
            grading=grading,
            rubrics=rubrics,
            interview_marks=interview_marks,
            take_marks=take_marks,
            results=Results(store, catalog, roster, directory, rubrics, interview_marks, grading, take_marks),
            uploads=Uploads(
                store,
                sittings,
                catalog,
                recordings,
                s.upload_abandon_s,
                s.upload_chunk_max_bytes,
                s.upload_processing_max_s,
                s.upload_encode_threads,
            ),
            artwork=ArtworkPhotos(store, s.recordings_dir, s.artwork_photo_max_bytes, s.artwork_photo_max_pixels),
            reviews=Reviews(sittings, catalog, directory, face_gate, Audit(store.redis, store.keys)),
            room_checks=RoomChecks(store, lambda: face_checks.pool is not None or s.facecheck_workers > 0),
            questions=QuestionBank(store, catalog, question_files),
            guided=GuidedSteps(store, catalog, question_files),
            question_files=question_files,
            cluster=cluster,
        )
        from .wiring import wire_domain  # the composition root imports the edges, which import this module

        wire_domain(services)
        return services

    async def ping(self) -> float:
        """Seconds one Redis round trip took (raises ``RedisUnavailable``)."""
        return await ping(self.store.redis)

    def attach_face_pool(self, pool: InferencePool | None) -> None:
        """The inference pool starts with the app (worker processes); until then face checks answer 503."""
        self.references.pool = pool
        self.face_checks.pool = pool
