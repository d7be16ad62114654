"""The Redis key schema: every key the server uses is built here, under one prefix.

Tests and tenants get their own prefix, so they never touch each other's keys. Every key is
built here: a Lua script gets its keys as KEYS, or, where it walks a room's line and cannot know
the accounts beforehand, as a key *prefix* (``queue_entry(room, "")``, ``presence("")``,
``process("")``, ``queued("")``) or a *template* (``face_state(TEMPLATE_EXAM, TEMPLATE_ACCOUNT)``) made by these
methods, to which it appends or fills in an id: no script spells a key's shape itself.

Redis Cluster: the scripts are not cluster-safe as they stand. A script may only touch the keys
of a single hash slot, and those that walk a line (queue_view, queue_call, queue_sweep, queue_close_slot)
reach keys derived inside the script, which Redis cannot route. A cluster deployment would put a
hash tag on every key of a room (``{room}``: qentry, queue, presence copies per room) and pass
every key as KEYS; the project runs one Redis primary (with AOF, and Sentinel for failover).

=====================================  ======  ==============================================
key (after the prefix)                 type    holds
=====================================  ======  ==============================================
exams                                  set     ids of all exams
exam:{exam}                            hash    school, name, booking window, notice, pledge
exam:{exam}:subjects                   zset    subject ids, scored by creation order
subject:{subject}                      hash    exam id, name, interview length
exam:{exam}:rooms                      set     room ids of the exam
exam:{exam}:proctors                   set     account ids of the proctors assigned to the exam
room:{room}                            hash    exam, subject, name
room:{room}:examiners                  set     account ids of the examiner panel
exam:{exam}:slots                      zset    slot ids scored by start time
slot:{slot}                            hash    exam, subject, room, start, end, capacity
slot:{slot}:booked                     zset    candidate account ids scored by booking time
account:{account}                      hash    role, login names, name, password hash ...
                                               (staff: ``staff_id_number``, server/exams/staff.py)
accounts:{role}                        set     account ids with that role
accounts:unverified                    zset    candidate accounts without a verified identity,
                                               scored by creation time (they expire)
login:{kind}:{value}                   string  account id for a login name (phone, email,
                                               username, idnum)
idclaim:{id_number}                    string  the one account that verified this ID number
roster:{exam}                          set     ID numbers on the exam's roster
roster:{exam}:{id_number}              hash    name, phone, subjects, photo sha256 ...
rostered:{id_number}                   set     exams whose roster holds this ID number
enrolment:{exam}:{account}             hash    confirmed / notice read / pledge signed times
bookings:{account}                     hash    subject id -> slot id
cancelled:{account}                    hash    subject id -> the school's cancellation of that
                                               subject's booking (JSON: slot, reason, time);
                                               cleared when the candidate books it again
appeal:{appeal}                        hash    an ID-number conflict waiting for a proctor
appeals:open                           zset    open appeal ids scored by time
appeals:open:{id_number}               set     open appeal ids about one ID number (a cap)
appeals:of:{account}                   zset    the account's appeal ids scored by time
session:{token_hash}                   hash    account id, role, created, address (TTL); the
                                               hash is the token's sha256
account:{account}:sessions             set     session key hashes, for revocation
sessions:ended                         channel pub/sub, not a key: "ended" notices (JSON: key
                                               hashes, account, reason); every process cuts
                                               the matching sockets
ratelimit:{scope}:{value}              string  failed-attempt counter (TTL = window); scopes
                                               facecheck-challenge / facecheck-check count every
                                               face-check attempt of an account
                                               (the scopes of contact codes and registrations:
                                               server/accounts/codes.py)
code:{purpose}:{kind}:{value}          hash    the live contact code of a phone/email for one
                                               purpose (register, reset, change): salted HMAC
                                               digest, salt, attempts, account id (TTL)
audit:{exam}                           stream  every state change of an exam
audit:system                           stream  state changes not tied to one exam
faceref:{model}:{photo_sha256}         string  reference embedding of an ID photo (JSON list)
face:{exam}:{account}                  hash    face-check state: status, strikes, streak, last result
facechecks:{exam}:{account}            list    every check of the candidate (JSON, newest first)
facechallenge:{challenge}              hash    an issued challenge: an appeal's turn, a live check's moves (TTL)
facerunning:{account}                  string  the candidate's one queue-entry face check in flight
                                               (a token; TTL, released when the check ends)
review:{review}                        hash    a manual face review (3 strikes)
reviews:open                           zset    open review ids scored by time
import:{import}                        hash    progress of a roster import (TTL)
qentry:{room}:{account}                hash    the candidate's place in the room's queue: slot,
                                               state, order score, presence, reminders, device
queue:{room}                           zset    the waiting line (waiting_face_check, waiting),
                                               scored by slot start * 1e5 + arrival number
queue:{room}:all                       zset    every entry of the room, same scores (views)
queue:{room}:live                      hash    who is called or in the room now, since when
queue:{room}:stats                     hash    finished interviews: count, total seconds
queues:active                          set     rooms with a queue, for the sweeper
queued:{account}                       set     rooms where the candidate has an entry
arrivals:{slot}                        string  arrival counter of the slot (queue order)
slotclosed:{slot}                      string  set once the slot's no-shows were marked absent
presence:{account}                     zset    live sockets of a candidate (``<process>|<sid>``),
                                               scored by the time their heartbeat expires; a
                                               member counts only while ``process:{process}``
                                               exists and its channel has a subscriber
process:{process}                      string  a server process is alive (TTL ``process_ttl_s``,
                                               refreshed every third of it; a killed process's
                                               lapses, and its sockets stop counting). Also the
                                               name of a pub/sub channel the process stays
                                               subscribed to: Redis drops a killed process's
                                               subscription at once (``PUBSUB NUMSUB``)
recording:{interview}                  hash    one recorded interview: folder, state, manifest
mediaroom:{room}                       string  the server process holding the room's media (TTL,
                                               refreshed while it lives)
aux:{exam}:{account}                   hash    the candidate's auxiliary-camera codes: ``session``
                                               (key hash of the session that made the current
                                               codes), ``gen`` (their generation; a new session
                                               or the end of an interview makes older codes void)
aux:{exam}:{account}:devices           set     device ids admitted for the candidate in this
                                               admission (at most ``aux_max_devices``, whatever
                                               the number of codes)
secret:aux                             string  the HMAC secret of auxiliary-camera tokens (made once)
recordings:{exam}                      zset    interview ids of an exam scored by start time
recordings:open                        set     interviews being recorded (checked for crashes)
recordinglock:{interview}              string  held while one process completes or resumes an
                                               interview's folder (TTL)
sitting:{sitting}                      hash    one entry into a recorded subject: candidate, mode,
                                               state, exam code, deadline, the rules agreed to,
                                               takes used, the running take, the submission
sitting:{sitting}:takes                zset    the sitting's take ids scored by their number (start order)
take:{take}                            hash    one take: state, camera, times, length, whether
                                               it counts, playable files and sha256
sittings:{exam}:{subject}:{account}    hash    the candidate's sittings of a recorded subject:
                                               ``<mode>`` the one in progress, ``last_<mode>``
                                               the latest, ``<mode>_entries``, ``submission``
                                               (the formal sitting submitted)
exam:{exam}:sittings                   zset    every sitting of the exam scored by entry time
sittings:due                           zset    formal and mock sittings in progress scored by
                                               when the deadline sweep looks at them next
takes:practice                         zset    ended practice takes scored by end time (purged
                                               after ``practice_keep_h``)
takes:identity                         zset    submitted takes waiting for their identity check,
                                               scored by when it is tried next (take_identity.py)
uploads:due                            zset    takes that are files being uploaded or processed,
                                               scored by when the upload sweep looks at them next
                                               (abandoned, or a dead process's processing;
                                               server/recorded/uploads.py)
uploadlock:{take}                      string  the one writer of an upload's bytes, then the one
                                               process making it playable (a token; TTL, refreshed)
subject:{subject}:graders              set     account ids of the examiners who grade the recorded
                                               subject (server/recorded/grading.py)
anon:codes                             hash    anonymous code (``S-7K3Q9``) -> sitting id: every
                                               submission's code, unique on the server
anon:subject:{subject}                 hash    sitting id -> its anonymous code, per recorded subject
takemarks:{code}                       hash    a submission's marking: exam, subject, markers wanted,
                                               graders (JSON, in assignment order), third_missing
takemark:{code}:{grader}               hash    one grader's mark sheet: state (assigned / draft /
                                               sealed), marks (JSON), comment, total, times
takemarks:grader:{grader}              zset    the codes assigned to a grader, scored by assignment
takemarks:subject:{subject}            zset    the codes of a subject with graders, scored likewise
takemarks:subject:{subject}:load       hash    grader -> submissions assigned to them in the subject
rubric:{subject}                       hash    the subject's rubric: criteria (JSON), step, combine,
                                               markers, gap, version, sealed (count of sealed
                                               marks now) (server/marking/rubrics.py)
interview:{interview}                  hash    a live interview (admission id) for marking: exam,
                                               subject, room, candidate, name, panel (JSON: the
                                               room's examiners when called), called/ended times,
                                               final mark once every panel sheet is sealed
marks:{interview}                      hash    examiner account id -> their mark sheet (JSON: marks,
                                               comment, state draft|sealed, times, reopenings);
                                               ``excused:<examiner>`` (JSON: by, reason, time) for an
                                               examiner an admin excused from the marking
room:{room}:interviews                 zset    the room's interviews (admission ids) scored by
                                               when the candidate was called
unmarked:{account}                     zset    an examiner's unfinished marking: ended interviews
                                               (done) of their panel without their sealed sheet,
                                               scored by end time
interviews:{account}                   zset    a candidate's live interviews (admission ids), scored
                                               by when they were called (the results read a page
                                               of candidates without walking every room)
results:{exam}                         hash    the exam's results: state (locked / published;
                                               absent: open), lock and publication actor and
                                               time, the published wording (show marks, rule,
                                               pass mark or list, labels), ``changes`` (the marks'
                                               change counter the lock checks), ``interviews_indexed``
                                               (marking/results.py)
results:{exam}:rows                    hash    ID number on the roster -> the candidate's result row (JSON),
                                               written when the results are locked
results:{exam}:ids                     zset    the ID numbers of ``results:{exam}:rows`` (score 0: in
                                               ID-number order), read by rank a page at a time
demo:exam                              string  id of the demo exam (``interview-server demo``)
roomcheck:{interview}                  hash    the room-entry face check of a live interview
                                               (admission id): exam, room, candidate, state
                                               (checking / verified / unverified / failed /
                                               overridden), reason, distance, retries, override
                                               actor and reason, times (facecheck/room_checks.py)
question:{question}                    hash    one question of a recorded subject's bank: its pool
                                               (formal / mock), text, media (sha256, type, size),
                                               how often drawn (server/recorded/questions.py)
questions:{subject}                    zset    the subject's question ids scored by when added (admin)
questions:{subject}:{use}              set     the question ids a take of that pool draws from:
                                               ``formal`` (formal sittings) or ``mock`` (mock and
                                               practice sittings); a question is in one pool only
drawn:{subject}:{account}:{use}        set     the questions of a pool the candidate has drawn
                                               (no repeat until the pool is exhausted: then it
                                               starts again)
node:{process}                         hash    a running node (server process) in the registry
                                               (docs/nodes.md): node id, media address, internal
                                               URL, load (rooms, room ids, participants, CPU %),
                                               draining, start and last beat (TTL, refreshed every
                                               ``process_ttl_s / 3``)
nodes                                  set     the processes registered (members whose hash lapsed
                                               are removed by the next listing)
nodedrain:{node}                       string  an admin asked the node (its node id) to drain: it
                                               takes no new room while this exists
nodelost:{process}                     string  one surviving node tells the rooms' participants of a
                                               dead node to reconnect (TTL, taken with SET NX)
relay:{process}                        channel pub/sub, not a key: signed relay messages to the
                                               process and its replies (server/nodes/relay.py)
secret:nodes                           string  the HMAC secret of relay messages and internal
                                               requests, when ``node_secret`` is not set (made once)
recordings:open:{node}                 set     interviews with a part written on this node whose
                                               files the node still has to complete after a crash
                                               (separate recordings folders, docs/nodes.md)
booth:{exam}:{account}                 string  the candidate's take being filmed (JSON: sitting id,
                                               take id): where their aux camera's media goes
=====================================  ======  ==============================================
"""

from __future__ import annotations

# placeholders of key templates handed to Lua scripts (ids never contain braces)
TEMPLATE_EXAM = "{exam}"
TEMPLATE_ACCOUNT = "{account}"
TEMPLATE_SUBJECT = "{subject}"


class Keys:
    def __init__(self, prefix: str = "iv:") -> None:
        self.prefix = prefix
        self.sessions_ended = self._k("sessions", "ended")  # a pub/sub channel, not a key

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # exams, subjects, rooms, slots
    def exams(self) -> str:
        return self._k("exams")

    def exam(self, exam_id: str) -> str:
        return self._k("exam", exam_id)

    def exam_subjects(self, exam_id: str) -> str:
        return self._k("exam", exam_id, "subjects")

    def subject(self, subject_id: str) -> str:
        return self._k("subject", subject_id)

    def exam_proctors(self, exam_id: str) -> str:
        return self._k("exam", exam_id, "proctors")

    def exam_rooms(self, exam_id: str) -> str:
        return self._k("exam", exam_id, "rooms")

    def room(self, room_id: str) -> str:
        return self._k("room", room_id)

    def room_examiners(self, room_id: str) -> str:
        return self._k("room", room_id, "examiners")

    def exam_slots(self, exam_id: str) -> str:
        return self._k("exam", exam_id, "slots")

    def slot(self, slot_id: str) -> str:
        return self._k("slot", slot_id)

    def slot_booked(self, slot_id: str) -> str:
        return self._k("slot", slot_id, "booked")

    # accounts and sessions
    def account(self, account_id: str) -> str:
        return self._k("account", account_id)

    def accounts_by_role(self, role: str) -> str:
        return self._k("accounts", role)

    def unverified_accounts(self) -> str:
        return self._k("accounts", "unverified")

    def login(self, kind: str, value: str) -> str:
        return self._k("login", kind, value)

    def id_claim(self, id_number: str) -> str:
        return self._k("idclaim", id_number)

    def session(self, token_hash: str) -> str:
        return self._k("session", token_hash)

    def account_sessions(self, account_id: str) -> str:
        return self._k("account", account_id, "sessions")

    def rate_limit(self, scope: str, value: str) -> str:
        return self._k("ratelimit", scope, value)

    def contact_code(self, purpose: str, kind: str, value: str) -> str:
        return self._k("code", purpose, kind, value)

    # roster, enrolment, bookings, appeals
    def roster(self, exam_id: str) -> str:
        return self._k("roster", exam_id)

    def roster_entry(self, exam_id: str, id_number: str) -> str:
        return self._k("roster", exam_id, id_number)

    def rostered(self, id_number: str) -> str:
        return self._k("rostered", id_number)

    def enrolment(self, exam_id: str, account_id: str) -> str:
        return self._k("enrolment", exam_id, account_id)

    def bookings(self, account_id: str) -> str:
        return self._k("bookings", account_id)

    def booking_cancellations(self, account_id: str) -> str:
        return self._k("cancelled", account_id)

    def appeal(self, appeal_id: str) -> str:
        return self._k("appeal", appeal_id)

    def open_appeals(self) -> str:
        return self._k("appeals", "open")

    def open_appeals_of(self, id_number: str) -> str:
        return self._k("appeals", "open", id_number)

    def appeals_of(self, account_id: str) -> str:
        return self._k("appeals", "of", account_id)

    # audit
    def audit(self, exam_id: str | None) -> str:
        return self._k("audit", exam_id or "system")

    def aux_secret(self) -> str:
        return self._k("secret", "aux")

    def demo_exam(self) -> str:
        return self._k("demo", "exam")

    # face check
    def face_reference(self, model: str, photo_sha256: str) -> str:
        return self._k("faceref", model, photo_sha256)

    def face_state(self, exam_id: str, account_id: str) -> str:
        return self._k("face", exam_id, account_id)

    def face_checks(self, exam_id: str, account_id: str) -> str:
        return self._k("facechecks", exam_id, account_id)

    def face_challenge(self, challenge_id: str) -> str:
        return self._k("facechallenge", challenge_id)

    def face_running(self, account_id: str) -> str:
        return self._k("facerunning", account_id)

    def review(self, review_id: str) -> str:
        return self._k("review", review_id)

    def open_reviews(self) -> str:
        return self._k("reviews", "open")

    def import_progress(self, import_id: str) -> str:
        return self._k("import", import_id)

    # waiting queue (Lua scripts that walk a queue build qentry/presence keys from the prefix)
    def queue_entry(self, room_id: str, account_id: str) -> str:
        return self._k("qentry", room_id, account_id)

    def queue(self, room_id: str) -> str:
        return self._k("queue", room_id)

    def queue_all(self, room_id: str) -> str:
        return self._k("queue", room_id, "all")

    def queue_live(self, room_id: str) -> str:
        return self._k("queue", room_id, "live")

    def queue_stats(self, room_id: str) -> str:
        return self._k("queue", room_id, "stats")

    def active_queues(self) -> str:
        return self._k("queues", "active")

    def queued(self, account_id: str) -> str:
        return self._k("queued", account_id)

    def arrivals(self, slot_id: str) -> str:
        return self._k("arrivals", slot_id)

    def slot_closed(self, slot_id: str) -> str:
        return self._k("slotclosed", slot_id)

    def presence(self, account_id: str) -> str:
        return self._k("presence", account_id)

    def process(self, process_id: str) -> str:
        return self._k("process", process_id)

    # recordings
    def recording(self, interview_id: str) -> str:
        return self._k("recording", interview_id)

    def exam_recordings(self, exam_id: str) -> str:
        return self._k("recordings", exam_id)

    def recording_lock(self, interview_id: str) -> str:
        return self._k("recordinglock", interview_id)

    def open_recordings(self) -> str:
        return self._k("recordings", "open")

    def media_owner(self, room_id: str) -> str:
        return self._k("mediaroom", room_id)

    def aux_record(self, exam_id: str, account_id: str) -> str:
        return self._k("aux", exam_id, account_id)

    def aux_devices(self, exam_id: str, account_id: str) -> str:
        return self._k("aux", exam_id, account_id, "devices")

    # recorded exams (server/recorded)
    def sitting(self, sitting_id: str) -> str:
        return self._k("sitting", sitting_id)

    def sitting_takes(self, sitting_id: str) -> str:
        return self._k("sitting", sitting_id, "takes")

    def take(self, take_id: str) -> str:
        return self._k("take", take_id)

    def sittings_of(self, exam_id: str, subject_id: str, account_id: str) -> str:
        return self._k("sittings", exam_id, subject_id, account_id)

    def exam_sittings(self, exam_id: str) -> str:
        return self._k("exam", exam_id, "sittings")

    def sittings_due(self) -> str:
        return self._k("sittings", "due")

    def practice_takes(self) -> str:
        return self._k("takes", "practice")

    def take_identity_due(self) -> str:
        return self._k("takes", "identity")

    def uploads_due(self) -> str:
        return self._k("uploads", "due")

    def upload_lock(self, take_id: str) -> str:
        return self._k("uploadlock", take_id)

    # grading of recorded subjects (server/recorded/grading.py)
    def subject_graders(self, subject_id: str) -> str:
        return self._k("subject", subject_id, "graders")

    def anon_codes(self) -> str:
        return self._k("anon", "codes")

    def anon_subject(self, subject_id: str) -> str:
        return self._k("anon", "subject", subject_id)

    # blind double marking of recorded submissions (server/marking/take_marks.py)
    def take_marking(self, code: str) -> str:
        return self._k("takemarks", code)

    def take_mark(self, code: str, grader_id: str) -> str:
        return self._k("takemark", code, grader_id)

    def take_mark_queue(self, grader_id: str) -> str:
        return self._k("takemarks", "grader", grader_id)

    def take_mark_codes(self, subject_id: str) -> str:
        return self._k("takemarks", "subject", subject_id)

    def take_mark_load(self, subject_id: str) -> str:
        return self._k("takemarks", "subject", subject_id, "load")

    # marking (server/marking)
    def rubric(self, subject_id: str) -> str:
        return self._k("rubric", subject_id)

    def interview(self, interview_id: str) -> str:
        return self._k("interview", interview_id)

    def interview_marks(self, interview_id: str) -> str:
        return self._k("marks", interview_id)

    def room_interviews(self, room_id: str) -> str:
        return self._k("room", room_id, "interviews")

    def unmarked(self, account_id: str) -> str:
        return self._k("unmarked", account_id)

    # results (server/marking/results.py)
    def results(self, exam_id: str) -> str:
        return self._k("results", exam_id)

    def results_rows(self, exam_id: str) -> str:
        return self._k("results", exam_id, "rows")

    # the room-entry face check (server/facecheck/room_checks.py)
    def room_check(self, interview_id: str) -> str:
        return self._k("roomcheck", interview_id)

    # question banks of recorded subjects (server/recorded/questions.py)
    def question(self, question_id: str) -> str:
        return self._k("question", question_id)

    def subject_questions(self, subject_id: str) -> str:
        return self._k("questions", subject_id)

    def question_pool(self, subject_id: str, use: str) -> str:
        return self._k("questions", subject_id, use)

    def questions_drawn(self, subject_id: str, account_id: str, use: str) -> str:
        return self._k("drawn", subject_id, account_id, use)

    def results_ids(self, exam_id: str) -> str:
        return self._k("results", exam_id, "ids")

    def candidate_interviews(self, account_id: str) -> str:
        return self._k("interviews", account_id)

    # several nodes (server/nodes, docs/nodes.md)
    def node(self, process_id: str) -> str:
        return self._k("node", process_id)

    def nodes(self) -> str:
        return self._k("nodes")

    def node_drain(self, node_id: str) -> str:
        return self._k("nodedrain", node_id)

    def node_lost(self, process_id: str) -> str:
        return self._k("nodelost", process_id)

    def relay(self, process_id: str) -> str:
        return self._k("relay", process_id)

    def node_secret(self) -> str:
        return self._k("secret", "nodes")

    def open_parts(self, node_id: str) -> str:
        return self._k("recordings", "open", node_id)

    def booth(self, exam_id: str, account_id: str) -> str:
        return self._k("booth", exam_id, account_id)
