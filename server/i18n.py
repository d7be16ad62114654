"""User-facing messages, zh-CN first (wording from the platform candidates know), English second.

A catalogue, not logic: one table per kind of text (errors, labels, events, reasons), long because
the product says many things, kept in one file so that translators and tests see all of it."""

from __future__ import annotations

from typing import Any

LANGS = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # request shape
    "bad_multipart": (
        "上传内容格式错误：需要 multipart/form-data 表单",
        "Malformed upload: multipart/form-data expected",
    ),
    "cannot_disable_self": ("不能停用自己的账号", "You cannot disable your own account"),
    "slot_overlap": ("该考场在此时间段已有考试时段", "The room already has a slot at that time"),
    "bad_json": ("请求格式错误：需要 JSON 对象", "Malformed request: a JSON object is expected"),
    "bad_text": (
        "提交的内容含有无法识别的字符，请删除后重新输入",
        "The request contains a character that is not valid text; remove it and type it again",
    ),
    "body_too_large": ("提交的内容过大（上限 {limit}）", "Request body too large (limit {limit})"),
    "field_required": ("请填写{label}", "{label} is required"),
    "field_type": ("{label}格式不正确", "{label} has the wrong type"),
    "field_unknown": ("不支持的字段：{name}", "Unknown field: {name}"),
    "field_too_long": ("{label}过长（最多 {max} 个字符）", "{label} is too long (at most {max} characters)"),
    "field_range": ("{label}应在 {min} 到 {max} 之间", "{label} must be between {min} and {max}"),
    "field_invalid": ("{label}不正确", "{label} is not valid"),
    "bad_content_type": ("请求类型错误：需要 {expected}", "Wrong content type: {expected} expected"),
    "cross_origin": ("拒绝跨站请求", "Cross-site request refused"),
    "not_found": ("页面或接口不存在", "No such page or endpoint"),
    "export_unknown": (
        "没有这种导出：{what}（可导出 marks、attendance、bookings、results，格式 csv 或 xlsx）",
        "No such export: {what} (marks, attendance, bookings or results, as csv or xlsx)",
    ),
    "method_not_allowed": ("不支持该请求方法", "Method not allowed"),
    "storage_unavailable": (
        "服务器正在恢复，请稍候，无需刷新页面（数据存储暂时无法连接，不是您的网络问题，稍后再试即可）",
        "The server is recovering; please wait, no need to reload the page (storage is briefly unreachable: "
        "not a problem with your network; retry shortly)",
    ),
    "internal": (
        "服务器内部错误，请稍后再试（编号 {request_id}）",
        "Internal server error, please retry (reference {request_id})",
    ),
    # auth
    "login_required": ("请先登录", "Please log in first"),
    "forbidden": ("没有权限执行此操作", "You are not allowed to do this"),
    "login_failed": ("账号或密码错误", "Wrong account or password"),
    "login_locked": (
        "登录失败次数过多，请 {minutes} 分钟后再试",
        "Too many failed logins; try again in {minutes} minutes",
    ),
    "account_disabled": ("该账号已停用，请联系学校", "This account is disabled; contact the school"),
    "phone_invalid": ("请输入正确的 11 位手机号", "Enter a valid 11-digit mobile number"),
    "email_invalid": ("请输入正确的邮箱地址", "Enter a valid email address"),
    "username_invalid": (
        "用户名只能包含字母、数字、点、下划线和短横线（3-32 位）",
        "Username: 3-32 letters, digits, '.', '_' or '-'",
    ),
    "password_weak": (
        "密码至少 8 位，且须同时包含字母和数字",
        "Password: at least 8 characters with letters and digits",
    ),
    "phone_taken": ("该手机号已注册，请直接登录", "This phone number is already registered; please log in"),
    "email_taken": ("该邮箱已注册，请直接登录", "This email is already registered; please log in"),
    "username_taken": ("该用户名已存在", "This username already exists"),
    "register_needs_login": (
        "请填写手机号（港澳台侨及国际考生填写邮箱）",
        "Enter a phone number (or an email for overseas candidates)",
    ),
    # identity
    "id_number_invalid": (
        "身份证号格式不正确（18 位，末位可为大写 X）",
        "ID number is not valid (18 characters, last may be X)",
    ),
    "id_number_checksum": (
        "身份证号校验位不正确，请核对后重新输入",
        "ID number checksum does not match; please check it",
    ),
    "auth_busy": ("当前登录和注册人数较多，请稍后重试", "Many people are logging in right now; try again shortly"),
    "contact_unverified": (
        "请先用短信验证码验证您的手机号（或邮箱），再进行身份认证",
        "Prove your phone number (or email) with a code first, then verify your identity",
    ),
    "identity_mismatch": (
        "姓名或身份证号与报考院校导入的考生名单不一致，请核对后重新输入；仍有问题请联系报考院校",
        "Name or ID number does not match the school's roster; check them, or ask the school",
    ),
    "identity_locked": (
        "认证尝试次数过多，请 {minutes} 分钟后再试",
        "Too many verification attempts; try again in {minutes} min",
    ),
    "id_claimed": (
        "该身份证号已被其他账号认证。如果您是本人，请点击“去申诉”，完成人脸比对后提交申诉，等待人工审核",
        "This ID number is verified by another account. If it is yours, choose 'Appeal', pass a face check and submit it for review",
    ),
    "appeal_not_needed": (
        "该身份证号未被其他账号认证，请直接提交身份认证",
        "This ID number is not verified by another account; verify it directly",
    ),
    "appeal_open": ("您的申诉已提交，请耐心等待人工审核结果", "Your appeal is filed; please wait for the review"),
    "appeal_limit": (
        "该身份证号的申诉正在审核中，请联系报考院校",
        "Appeals about this ID number are under review; contact the school",
    ),
    "appeal_busy": ("该申诉正在被处理，请刷新后重试", "This appeal is being handled; refresh and try again"),
    "appeal_holder_verified": (
        "申诉人已认证其他身份，无法通过该申诉",
        "The appellant verified another identity; this appeal cannot be approved",
    ),
    "already_verified": (
        "您已完成身份认证，认证后不可更改信息",
        "You are already verified; verified details cannot be changed",
    ),
    "not_verified": ("请先完成身份认证", "Please complete identity verification first"),
    "appeal_resolved": ("该申诉已处理", "This appeal was already handled"),
    # exams and booking
    "exam_not_found": ("考试不存在", "No such exam"),
    "subject_not_found": ("科目不存在", "No such subject"),
    "room_not_found": ("考场不存在", "No such room"),
    "slot_not_found": ("考试时段不存在", "No such time slot"),
    "account_not_found": ("账号不存在", "No such account"),
    "appeal_not_found": ("申诉不存在", "No such appeal"),
    "booking_not_found": ("预约不存在", "No such booking"),
    "not_rostered": (
        "您不在该考试的考生名单中，请联系报考院校",
        "You are not on this exam's roster; contact the school",
    ),
    "not_rostered_subject": ("您未报考该科目", "You are not registered for this subject"),
    "exam_not_confirmed": ("请先确认考试", "Please confirm the exam first"),
    "notice_not_read": ("请先阅读考前须知", "Please read the pre-exam notice first"),
    "pledge_not_signed": ("请先签署诚信承诺书", "Please sign the integrity pledge first"),
    "pledge_must_agree": ("请勾选“我已阅读并同意”", "Tick 'I have read and agree'"),
    "booking_not_open": ("预约尚未开放，开放时间：{opens}", "Booking is not open yet; it opens {opens}"),
    "booking_closed": ("预约已截止（截止时间：{closes}），错过开放时间将无法预约", "Booking closed at {closes}"),
    "slot_full": ("该时段已约满，请选择其他时段", "This slot is full; please choose another"),
    "already_booked": (
        "您已预约该科目，预约完成后不可修改",
        "You already booked this subject; bookings cannot be changed",
    ),
    "slot_started": ("该时段已开始，无法预约", "This slot has already started"),
    "slot_wrong_exam": ("该时段不属于此考试", "This slot belongs to another exam"),
    "slot_times": ("结束时间须晚于开始时间", "End time must be after start time"),
    "window_times": ("预约截止时间须晚于开放时间", "Booking close must be after booking open"),
    # recorded exams (server/recorded, docs/recorded.md)
    "sitting_not_found": ("找不到该场考试", "No such sitting"),
    "take_not_found": ("找不到该条录制视频", "No such take"),
    "sitting_not_recorded": ("该科目不是录制考试", "This subject is not a recorded exam"),
    "sitting_mode_invalid": ("考试类型不正确（正式考、模拟考或练习）", "Unknown mode (formal, mock or practice)"),
    "device_id_invalid": ("设备标识不正确，请刷新页面后重试", "Unknown device id; reload the page and try again"),
    "sitting_window_not_open": (
        "考试时间为 {opens} 至 {closes}（北京时间），尚未开始，请在考试时间内进入",
        "The exam runs from {opens} to {closes} (Beijing time) and has not started yet",
    ),
    "sitting_window_closed": (
        "考试时间 {opens} 至 {closes}（北京时间）已结束",
        "The exam time ({opens} to {closes}, Beijing time) is over",
    ),
    "sitting_no_sittings_left": (
        "该科目的 {allowed} 次考试机会已用完",
        "All {allowed} entries of this subject are used",
    ),
    "sitting_no_mock_left": (
        "该科目没有可用的模拟考次数（共 {allowed} 次）",
        "No mock exam left for this subject ({allowed} in all)",
    ),
    "sitting_other_device": (
        "本场考试正在另一台设备上进行，请在原设备上继续（同一账号不能同时在两台设备上考试）",
        "This sitting is in progress on another device; continue there (one account cannot sit on two devices)",
    ),
    "sitting_over": (
        "本场考试已结束（已提交、已自动提交、缺考、已重置或已过截止时间），不能再录制或提交",
        "This sitting is over (submitted, auto-submitted, absent, reset or past its deadline): "
        "no more takes or submissions",
    ),
    "sitting_already_submitted": (
        "该科目已提交考试视频，一经提交，不得更改，不能再次进入考试",
        "This subject's video is submitted; a submission is final, and the exam cannot be entered again",
    ),
    "sitting_reset_none_left": (
        "没有剩余的考试次数，不能重置（共 {allowed} 次）",
        "No entries left: this sitting cannot be reset ({allowed} in all)",
    ),
    "take_limit": ("本场考试的 {allowed} 次录制机会已用完", "All {allowed} takes of this sitting are used"),
    "take_running": ("正在录制中，请先停止当前录制", "A take is recording; stop it first"),
    "take_not_complete": (
        "这条视频未完整录制，不能提交，请选择一条已完成的视频",
        "This take is not complete and cannot be submitted; choose a complete take",
    ),
    "take_face_check": (
        "请先完成人脸识别，通过后才能开始录制",
        "Pass the face check first; then you can start recording",
    ),
    # a take's media (server/signaling/recorded.py)
    "take_over": (
        "这条视频的录制已经结束，不能继续录制；请返回查看录好的视频，或开始新的一次录制",
        "This take is over and cannot go on; watch it back, or start a new take",
    ),
    "take_not_playable": (
        "这条视频还在录制或正在保存，请稍候几秒再播放；录制失败的视频无法播放",
        "This take is still recording or being saved: play it in a few seconds (a failed take has nothing to play)",
    ),
    "take_file_missing": (
        "这条视频没有该画面（例如未连接该辅机位）",
        "This take has no such file (e.g. no such aux camera)",
    ),
    "take_ended_stopped": ("录制已停止，视频已保存在服务器上", "Recording stopped; the take is saved on the server"),
    "take_ended_limit": (
        "已达到单次录制的最长时间，录制已自动停止，视频已保存在服务器上",
        "The take reached its longest length and was stopped; it is saved on the server",
    ),
    "take_ended_steps": (
        "全部指定项目已完成，录制已自动停止，视频已保存在服务器上",
        "Every step is done: the recording stopped by itself and the take is saved on the server",
    ),
    "take_ended_connection": (
        "网络连接中断时间过长，录制已中断；已录制的部分保存在服务器上",
        "The connection was lost for too long, so the take was cut short; what was recorded is saved on the server",
    ),
    "take_ended_deadline": (
        "考试时间已到，录制已自动停止，视频已保存在服务器上",
        "The sitting's time is up: the take was stopped and is saved on the server",
    ),
    # artwork photos (server/recorded/artwork.py, photo_clean.py)
    "artwork_photos_range": (
        "作品照片的最少张数（{min}）不能多于最多张数（{max}）",
        "The fewest photos ({min}) cannot be more than the most ({max})",
    ),
    "artwork_photos_missing": (
        "请先为这条视频上传作品照片再提交（至少 {min} 张，目前 {count} 张）",
        "Upload photos of your work for this take before submitting ({min} at least, {count} now)",
    ),
    "photo_not_artwork": ("本科目不是作品创作科目，不需要上传作品照片", "This subject takes no photos of a work"),
    "photo_sitting_over": (
        "本场考试已提交或已结束，作品照片不能再上传或删除",
        "This sitting is submitted or over: photos can no longer be added or removed",
    ),
    "photo_take_not_complete": (
        "这条视频未完整录制，不能为它上传作品照片",
        "This take is not complete: it takes no photos",
    ),
    "photo_time_over": (
        "作品拍照时间（录制结束后 {minutes} 分钟内）已过，不能再上传或删除照片",
        "The time to photograph the work ({minutes} minutes after the take) is over: photos can no longer change",
    ),
    "photo_too_many": (
        "每条视频最多上传 {max} 张作品照片，请先删除不需要的照片",
        "At most {max} photos per take: remove one first",
    ),
    "photo_uploads_exhausted": (
        "这条视频的照片上传次数已达上限（{limit} 次）",
        "This take has taken the most uploads allowed ({limit})",
    ),
    "photo_busy": ("服务器正忙，请稍后重新上传照片", "The server is busy: upload the photo again in a moment"),
    "photo_not_found": ("照片不存在或已删除", "No such photo (or it was removed)"),
    "photo_not_image": (
        "该文件不是有效的图片，请上传 JPEG 或 PNG 格式的照片",
        "This file is not a valid picture: upload a JPEG or PNG photo",
    ),
    "photo_format": (
        "仅支持 JPEG、PNG 格式的照片（该文件为 {format} 格式）",
        "Only JPEG and PNG photos are accepted (this file is {format})",
    ),
    "photo_heic": (
        "这张 HEIC 格式的照片无法读取。请点击“拍照”直接拍摄，或在手机“设置—相机—格式”中选择“兼容性最佳”后重新拍摄",
        "This HEIC photo cannot be read: use 'Take a photo' on this page, or set the camera to 'Most compatible' (JPEG) and take it again",
    ),
    "photo_too_large": ("照片文件过大（上限 {limit}）", "The photo file is too large (at most {limit})"),
    "photo_too_many_pixels": (
        "照片像素过多（上限 {max_mp} 百万像素），请缩小后重新上传",
        "The photo has too many pixels (at most {max_mp} megapixels): scale it down and upload again",
    ),
    "photo_too_small": (
        "照片太小（{width}×{height}），请拍摄清晰的作品照片（短边至少 {min} 像素）",
        "The photo is too small ({width}x{height}): take a clear photo of the work (at least {min} pixels on its short side)",
    ),
    "subject_kind_invalid": ("科目类型不正确（互动面试或录制考试）", "Unknown subject kind (interview or recorded)"),
    "subject_form_invalid": (
        "考试形式不正确（目前支持：自备展示、作品创作）",
        "Unknown exam form (supported: performance, artwork)",
    ),
    "recorded_window_required": (
        "录制考试需要设置考试时间（开始和结束）",
        "A recorded subject needs its exam window (opens and closes)",
    ),
    "recorded_window_times": ("考试结束时间须晚于开始时间", "The exam window must close after it opens"),
    "recorded_window_too_long": ("考试时间不能超过 {days} 天", "The exam window may last {days} days at most"),
    "slot_capacity_below_booked": (
        "容量不能小于已预约人数（{booked}）",
        "Capacity cannot be below the number already booked ({booked})",
    ),
    "examiner_invalid": ("考官账号不存在或不是考官：{account}", "Not an examiner account: {account}"),
    "role_invalid": ("角色不正确", "Unknown role"),
    # roster import
    "csv_encoding": (
        "无法识别文件编码，请保存为 UTF-8 或 GBK 编码的 CSV",
        "Cannot read the file; save it as UTF-8 or GBK CSV",
    ),
    "csv_malformed": ("CSV 文件格式错误：{detail}", "Malformed CSV: {detail}"),
    "csv_columns": ("缺少必需的列：{columns}", "Missing required columns: {columns}"),
    "csv_too_many_rows": ("名单行数过多（上限 {limit} 行）", "Too many rows (limit {limit})"),
    "csv_empty": ("名单中没有数据行", "The roster has no data rows"),
    "photos_archive": ("照片压缩包无法读取：{detail}", "Cannot read the photo archive: {detail}"),
    "roster_entry_not_found": ("该考试名单中没有此证件号码的考生", "No roster row with this ID number in the exam"),
    # face check: a result's reason, then what to do about it (every rejection names its reason and the fix)
    "face_no_face": ("未检测到人脸", "No face detected"),
    "advice_face_no_face": (
        "请正对摄像头，确保整张脸都在画面中",
        "Face the camera with your whole face in the picture",
    ),
    "face_multiple": ("检测到多张人脸", "More than one face detected"),
    "advice_face_multiple": ("画面中仅允许出现考生本人", "Only the candidate may be in the picture"),
    "face_too_dark": ("光线太暗", "Too dark"),
    "advice_face_too_dark": (
        "请到光线充足的地方或打开灯光，保证人脸清晰",
        "Move to a brighter place or turn on a light",
    ),
    "face_overexposed": ("画面过曝", "Overexposed"),
    "advice_face_overexposed": (
        "请调整好光线角度，避免强光直射或逆光，不要出现高曝光的情况",
        "Avoid direct light or backlight on the camera",
    ),
    "face_too_small": ("人脸太小或太远", "Face too small or too far"),
    "advice_face_too_small": (
        "请靠近摄像头，让脸部占画面的三分之一左右",
        "Come closer so your face fills about a third of the picture",
    ),
    "face_blurry": ("画面模糊", "Picture blurred"),
    "advice_face_blurry": ("请保持手机稳定，并擦拭摄像头", "Hold the phone still and wipe the camera lens"),
    "face_mismatch": ("人脸比对未通过", "Face does not match the ID photo"),
    "advice_face_mismatch": (
        "请正面面对摄像头，不要佩戴美瞳、不要化浓妆，摘下帽子和口罩",
        "Face the camera; no coloured lenses, heavy make-up, hat or mask",
    ),
    "face_liveness": ("未检测到转头动作", "The head turn was not seen"),
    "advice_face_liveness": (
        "请根据提示缓慢向{direction}转头，请勿使用照片",
        "Turn your head slowly to the {direction} as asked; photos are not accepted",
    ),
    # the live challenge (facecheck/live_check.py): the moves as asked, and why a check failed
    "face_move_left": ("请向左转头", "Turn your head to the left"),
    "face_move_right": ("请向右转头", "Turn your head to the right"),
    "face_hold_front": ("请正对摄像头", "Face the camera"),
    "face_no_video": ("未收到摄像头画面", "No picture from the camera reached the server"),
    "advice_face_no_video": (
        "请允许使用摄像头，检查网络后重试",
        "Allow the camera, check the network and try again",
    ),
    "face_move_early": ("请在听到提示后再转头", "The head moved before the prompt"),
    "advice_face_move_early": (
        "请正对摄像头保持不动，听到或看到提示后再缓慢转头",
        "Face the camera and hold still; turn only when the prompt appears",
    ),
    "face_move_wrong": ("转头方向不正确", "The head turned the wrong way"),
    "advice_face_move_wrong": (
        "请按照提示的方向缓慢转头",
        "Turn your head slowly the way the prompt says",
    ),
    "face_move_late": ("未在规定时间内完成转头", "The head turn came too late"),
    "advice_face_move_late": (
        "看到提示后请在 2 秒内缓慢转头，转头幅度要明显",
        "Turn your head clearly within 2 seconds of the prompt",
    ),
    "face_resolution_changed": ("人脸验证过程中摄像头画面发生变化", "The camera changed during the check"),
    "advice_face_resolution_changed": (
        "人脸验证过程中请勿切换摄像头",
        "Do not switch cameras during the face check",
    ),
    "face_video_lost": ("摄像头画面中断", "The camera picture was lost"),
    "advice_face_video_lost": (
        "请检查网络，保持页面在前台，不要切换应用",
        "Check the network and keep this page in front; do not switch apps",
    ),
    "face_not_frontal": ("请正对摄像头", "Not facing the camera"),
    "advice_face_not_frontal": (
        "请正面面对摄像头，每次转头后回到正面",
        "Face the camera, and come back to face it after each turn",
    ),
    "face_turn_left": ("左", "left"),
    "face_turn_right": ("右", "right"),
    "face_check_locked": (
        "连续 {strikes} 次人脸验证失败，已提交人工审核，请耐心等待审核结果",
        "{strikes} failed face checks in a row; a proctor will review them, please wait",
    ),
    "face_review_rejected": (
        "人工审核未通过，请联系报考院校",
        "The manual review did not approve you; contact the school",
    ),
    "reference_unusable": (
        "学校名单中的证件照无法用于人脸比对，请联系报考院校更换证件照",
        "The ID photo on the school's roster cannot be used for face checks; ask the school to replace it",
    ),
    "facecheck_busy": ("人脸比对繁忙，请 {seconds} 秒后重试", "Face check is busy; retry in {seconds} s"),
    "facecheck_rate_limited": (
        "人脸比对尝试次数过多，请 {minutes} 分钟后再试",
        "Too many face-check attempts; try again in {minutes} minutes",
    ),
    "facecheck_in_progress": (
        "您的上一次人脸比对仍在进行中，请等待结果后再试",
        "Your previous face check is still running; wait for its result",
    ),
    "facecheck_unavailable": (
        "人脸比对服务暂不可用，请稍后再试",
        "Face check is not available right now, please retry later",
    ),
    "no_reference_photo": (
        "学校名单中没有您的证件照，无法进行人脸比对，请联系报考院校",
        "The school's roster has no ID photo for you; contact the school",
    ),
    "image_invalid": ("照片无法识别，请上传 JPEG 图片", "The picture cannot be read; send a JPEG image"),
    "image_too_large": ("照片尺寸过大", "The picture is too large"),
    "too_many_frames": ("照片数量过多（最多 {max} 张）", "Too many frames (at most {max})"),
    "no_frames": ("请上传人脸照片", "Send at least one picture of your face"),
    "challenge_expired": ("人脸验证已超时，请重新开始", "The face check timed out; please start again"),
    "review_not_found": ("审核记录不存在", "No such review"),
    "review_resolved": ("该审核已处理", "This review was already decided"),
    "row_photo_no_face": ("证件照中未检测到人脸", "No face found in the ID photo"),
    "row_photo_unusable": ("证件照无法用于人脸比对：{detail}", "ID photo cannot serve face checks: {detail}"),
    "row_photo_faces": ("证件照中检测到多张人脸", "More than one face in the ID photo"),
    "roster_file_missing": ("请上传名单 CSV 文件", "Upload the roster CSV file"),
    # roster rows (one reason each; a row may have several)
    "row_name_missing": ("缺少姓名", "Name is missing"),
    "row_name_too_long": ("姓名过长", "Name is too long"),
    "row_id_missing": ("缺少证件号码", "ID number is missing"),
    "row_id_type_unknown": ("不支持的证件类型：{value}", "Unknown ID document type: {value}"),
    "row_phone_invalid": ("手机号格式不正确：{value}", "Phone number is not valid: {value}"),
    "row_subject_missing": ("缺少报考科目", "Subject is missing"),
    "row_subject_unknown": ("考试中没有该科目：{subject}", "The exam has no subject named {subject}"),
    "row_exam_mismatch": ("不是本场考试的名单（{exam}）", "Row belongs to another exam ({exam})"),
    "row_duplicate": ("证件号码与第 {line} 行重复", "Same ID number as line {line}"),
    "row_photo_missing": ("缺少证件照（{photo}）", "ID photo missing ({photo})"),
    "row_photo_invalid": ("证件照无法识别为 JPEG/PNG 图片", "ID photo is not a readable JPEG/PNG image"),
    "row_photo_too_large": ("证件照过大（上限 {limit}）", "ID photo too large (limit {limit})"),
    # waiting queue and live signaling (docs/signaling.md)
    "queue_not_booked": ("您没有预约该考试时段", "You have not booked this time slot"),
    "queue_too_early": (
        "还未到候考时间：考试开始前 {early} 分钟可进入候考，请 {minutes} 分钟后再来",
        "Too early: the queue opens {early} minutes before your slot; come back in {minutes} minutes",
    ),
    "queue_slot_over": ("您预约的考试时段已结束", "Your booked time slot is over"),
    "device_check_failed": (
        "设备检测未通过，请按提示处理后重试",
        "The device check failed; fix the items shown and retry",
    ),
    "device_in_app_browser": (
        "请勿在{app}内打开，请点击右上角，选择“在浏览器打开”",
        "Do not use the {app} in-app browser: open this page in the system browser",
    ),
    "device_camera_denied": (
        "未获得摄像头权限，请在浏览器设置中允许使用摄像头",
        "No camera permission: allow the camera in the browser settings",
    ),
    "device_microphone_denied": (
        "未获得麦克风权限，请在浏览器设置中允许使用麦克风",
        "No microphone permission: allow the microphone in the browser settings",
    ),
    "device_battery_low": (
        "电量过低（{percent}%），请连接充电器（电量低于 {min}% 时须充电）",
        "Battery too low ({percent}%): plug in the charger (required below {min}%)",
    ),
    "device_browser_old": (
        "浏览器版本过低（{browser}），请升级到 {min} 或以上版本",
        "Browser too old ({browser}): update to version {min} or newer",
    ),
    "already_in_queue": ("您已在候考队列中", "You are already in the queue"),
    "interview_done": ("您的面试已结束", "Your interview is over"),
    "face_review_pending": (
        "人脸核验未通过，正在等待人工审核，请耐心等待",
        "Face check failed; a proctor is reviewing it, please wait",
    ),
    "room_busy": ("考场内还有考生，请先结束当前面试", "A candidate is still in the room; end that interview first"),
    "queue_empty": ("候考队列中没有考生", "Nobody is waiting"),
    "nobody_ready": (
        "候考考生尚未就绪（人脸核验未通过、未连接或时段未开始）",
        "Nobody is ready yet (face check not passed, not connected, or slot not started)",
    ),
    "room_not_admitted": (
        "您尚未被叫号进入该考场，请在候考队列中等待",
        "You have not been called into this room; wait in the queue",
    ),
    "not_in_queue": ("该考生不在此考场的队列中", "That candidate is not in this room's queue"),
    "wrong_state": ("当前状态（{state}）不能进行此操作", "Not possible in the current state ({state})"),
    "rate_limited": ("操作过于频繁，请稍后再试", "Too many requests; slow down"),
    "event_unknown": ("不支持的操作：{name}", "Unknown event: {name}"),
    "not_exam_proctor": (
        "您不是该考试的巡考老师，请联系学校管理员分配",
        "You are not a proctor of this exam; ask the school's admin",
    ),
    "proctor_invalid": ("账号 {account} 不是巡考账号", "Account {account} is not a proctor"),
    # marking (server/marking): rubrics and mark sheets
    "mark_criterion_unknown": ("评分标准中没有这一项：{criterion}", "The rubric has no criterion {criterion}"),
    "mark_not_number": ("“{criterion}”的分数应为数字", "The mark for {criterion} must be a number"),
    "mark_over_max": ("“{criterion}”的分数应在 0 到 {max} 分之间", "The mark for {criterion} must be 0 to {max}"),
    "mark_not_on_step": (
        "“{criterion}”的分数须为 {step} 的整数倍",
        "The mark for {criterion} must be a multiple of {step}",
    ),
    "mark_missing": ("请为“{criterion}”打分后再提交", "Mark {criterion} before submitting"),
    "rubric_missing": (
        "该科目尚未设置评分标准，请联系学校管理员",
        "This subject has no rubric yet; ask the school's admin",
    ),
    "rubric_step_invalid": ("评分步长只能是 1 或 0.5", "The step must be 1 or 0.5"),
    "rubric_combine_invalid": (
        "合分方式只能是“平均分”或“去掉最高分和最低分后取平均”",
        "Combine must be mean or trimmed_mean",
    ),
    "rubric_markers_invalid": ("每份录制作品的评阅人数只能是 1 或 2", "Markers per recorded take must be 1 or 2"),
    "rubric_criteria_count": ("评分项应有 1 到 {max} 项", "A rubric has 1 to {max} criteria"),
    "rubric_criterion_invalid": ("第 {n} 个评分项格式不正确", "Criterion {n} is malformed"),
    "rubric_criterion_id": (
        "第 {n} 个评分项的编号只能由 1-20 位小写字母、数字或下划线组成",
        "Criterion {n}: the id must be 1-20 lowercase letters, digits or underscores",
    ),
    "rubric_criterion_duplicate": ("评分项编号重复：{id}", "Duplicate criterion id: {id}"),
    "rubric_criterion_name": (
        "第 {n} 个评分项的名称须为 1-{max} 个字",
        "Criterion {n}: the name must be 1-{max} characters",
    ),
    "rubric_criterion_max": (
        "“{name}”的满分应大于 0 且不超过 {max}",
        "{name}: the maximum must be over 0 and at most {max}",
    ),
    "rubric_max_not_on_step": (
        "“{name}”的满分须为步长 {step} 的整数倍",
        "{name}: the maximum must be a multiple of {step}",
    ),
    "rubric_criterion_weight": (
        "“{name}”的权重应大于 0 且不超过 {max}",
        "{name}: the weight must be over 0 and at most {max}",
    ),
    "rubric_gap_invalid": (
        "分差阈值应在 0 到 {max}（满分总分）之间",
        "The gap must be between 0 and {max} (the full total)",
    ),
    "rubric_in_use": (
        "该科目已有考官提交评分，评分标准不能再修改",
        "Marks of this subject are already submitted; the rubric can no longer change",
    ),
    "rubric_changed": (
        "评分标准刚刚被管理员修改，请刷新页面后按新标准评分",
        "The rubric was just changed; reload the page and mark again",
    ),
    "interview_not_found": (
        "找不到该面试，或它不属于您所在考场",
        "No such interview, or it is not of your room",
    ),
    "marks_sealed": (
        "您已提交这场面试的评分，不能再修改（如需更正请联系管理员）",
        "Your marks are submitted and cannot change (ask an admin)",
    ),
    "marks_not_sealed": ("该考官的评分尚未提交，无需重新开放", "These marks are not submitted; nothing to reopen"),
    "marks_not_found": ("该考官没有这场面试的评分", "This examiner has no marks for this interview"),
    # results (server/marking/results.py)
    "results_locked": (
        "本场考试的成绩已锁定，评分不能再修改",
        "The exam's results are locked; marks can no longer change",
    ),
    "results_already_locked": ("本场考试的成绩已经锁定，无需重复锁定", "The results are already locked"),
    "results_not_locked": ("请先锁定成绩，再发布", "Lock the results before publishing them"),
    "results_published": ("本场考试的成绩已经发布，不能重复发布或修改", "The results are already published"),
    "results_pending": (
        "还有 {count} 项评分未完成，全部评完后才能锁定成绩",
        "{count} marks are not final yet; finish the marking before locking",
    ),
    "results_rule_invalid": ("公布方式只能是“按合格分数线”或“按合格名单”", "The rule must be pass_mark or pass_list"),
    "results_pass_mark_missing": ("请先设置合格分数线，再发布成绩", "Set the pass mark before publishing"),
    "results_unpublished": ("成绩未发布", "Results not published"),
    # blind double marking of recorded submissions (server/marking/take_marks.py)
    "take_mark_sealed": (
        "您已提交这份作品的评分，不能再修改（如需更正请联系管理员）",
        "Your marks for this submission are submitted and cannot change (ask an admin)",
    ),
    "take_mark_not_sealed": ("这份评分尚未提交，无需重新开放", "These marks are not submitted; nothing to reopen"),
    "take_mark_not_found": ("找不到该评阅老师对这份作品的评分", "This grader has no mark sheet for this submission"),
    "take_mark_reason_required": ("请填写重新开放评分的原因", "Give the reason for reopening the marks"),
    "take_marking_no_rubric": (
        "该科目尚未设置评分标准，请先设置评分标准再分配评阅",
        "This subject has no rubric yet; set one before assigning graders",
    ),
    "take_marking_no_graders": (
        "该科目还没有评阅老师，请先在“科目与考场”中指定评阅老师",
        "This subject has no graders yet; assign graders first",
    ),
    # graders of recorded subjects (server/recorded/grading.py)
    "grader_invalid": (
        "账号 {account} 不是考官账号，不能担任评阅老师",
        "Account {account} is not an examiner and cannot grade",
    ),
    "graders_too_many": ("每个科目最多指定 {max} 位评阅老师", "At most {max} graders per subject"),
    "grading_not_recorded": (
        "科目“{subject}”不是录制考试，评阅老师只能分配给录制科目",
        "“{subject}” is not a recorded subject; graders are assigned to recorded subjects only",
    ),
    "submission_not_found": (
        "找不到该提交：匿名编号不存在，或不属于您评阅的科目",
        "No such submission: the anonymous code does not exist or is not of a subject you grade",
    ),
    # drawn questions and guided items of recorded subjects (server/recorded/questions.py, guided.py)
    "question_file_empty": ("文件“{file}”是空的", "The file “{file}” is empty"),
    "question_file_too_large": ("文件“{file}”过大（上限 {limit}）", "The file “{file}” is too large (limit {limit})"),
    "question_image_invalid": (
        "图片“{file}”无法打开：请上传完好的 JPG 或 PNG 图片（不超过 4000 万像素）",
        "The image “{file}” cannot be opened: upload an intact JPG or PNG (at most 40 megapixels)",
    ),
    "question_audio_invalid": (
        "音频“{file}”无法播放：请上传完好的 MP3、M4A（AAC）或 WAV 音频",
        "The audio “{file}” cannot be played: upload an intact MP3, M4A (AAC) or WAV file",
    ),
    "question_audio_too_long": (
        "音频“{file}”过长（最长 {max} 分钟）",
        "The audio “{file}” is too long (at most {max} minutes)",
    ),
    "question_file_type": (
        "文件“{file}”不是支持的类型：图片请用 JPG 或 PNG，音频请用 MP3、M4A（AAC）或 WAV",
        "The file “{file}” is not a supported type: images JPG or PNG, audio MP3, M4A (AAC) or WAV",
    ),
    "question_file_unreadable": (
        "压缩包中的文件“{file}”无法读取（已损坏或已加密）",
        "The file “{file}” in the zip cannot be read (damaged or encrypted)",
    ),
    "question_file_missing": ("压缩包中找不到文件“{file}”", "The zip has no file “{file}”"),
    "question_file_path": (
        "文件名“{file}”不允许：不能含“..”，也不能以“/”或盘符开头",
        "The file name “{file}” is not allowed: no “..”, no leading “/” or drive letter",
    ),
    "question_use_invalid": (
        "用途请填写“正式考”或“模拟考”（模拟考的题目也用于练习）",
        "The pool must be “formal” or “mock” (mock questions also serve practice)",
    ),
    "question_empty": ("题目需要有文字、图片或音频", "A question needs a text, an image or an audio prompt"),
    "question_not_found": ("找不到该题目", "No such question"),
    "question_bank_full": (
        "每个科目的题库最多 {max} 道题（已有 {held} 道）",
        "A subject's bank holds at most {max} questions ({held} already)",
    ),
    "question_bank_empty": (
        "本科目题库中还没有可抽取的题目，暂时不能开始录制，请联系报考院校",
        "This subject's question bank has no question to draw yet, so no take can start; contact the school",
    ),
    "question_zip_invalid": (
        "题库压缩包无法打开，请上传 zip 格式的压缩包",
        "The question bank archive cannot be opened; upload a zip file",
    ),
    "question_zip_too_many": ("压缩包中的文件过多（最多 {max} 个）", "The zip holds too many files (at most {max})"),
    "question_zip_too_large": (
        "压缩包解压后过大（上限 {limit}）",
        "The zip is too large once unpacked (limit {limit})",
    ),
    "question_zip_unsafe_name": (
        "压缩包中的文件名“{file}”不安全（含“..”或绝对路径），整个压缩包未导入",
        "The zip holds an unsafe file name “{file}” (“..” or an absolute path): nothing was imported",
    ),
    "question_zip_no_index": (
        "压缩包中没有题目索引 CSV 文件（如 {names}）",
        "The zip has no CSV index of the questions (e.g. {names})",
    ),
    "take_no_question": ("这条录制没有抽到题目", "This take drew no question"),
    "take_no_time": (
        "考试剩余时间不足以完成准备和作答，不能再开始新的录制",
        "Too little time is left for the preparation and the answer: no new take can start",
    ),
    "guided_no_steps": (
        "本科目的指定项目尚未设置，暂时不能开始录制，请联系报考院校",
        "This subject's guided steps are not set yet, so no take can start; contact the school",
    ),
    "guided_step_invalid": ("第 {n} 步的格式不正确", "Step {n} is malformed"),
    "guided_step_text": ("请填写第 {n} 步的文字", "Give step {n} a text"),
    "guided_step_audio": (
        "第 {n} 步的指导音不存在或不是音频，请重新上传",
        "Step {n}'s audio guide is missing or not audio; upload it again",
    ),
    "guided_step_audio_type": (
        "指导音只能是音频（MP3、M4A 或 WAV）",
        "An audio guide must be audio (MP3, M4A or WAV)",
    ),
    "guided_steps_count": ("指定项目需要 1 到 {max} 个步骤", "A guided subject needs 1 to {max} steps"),
    "guided_steps_too_long": (
        "全部步骤加起来不能超过 {max} 分钟",
        "All steps together may last at most {max} minutes",
    ),
    "aux_prompt_only": (
        "这个二维码用于在另一部手机上查看题目，不能作为辅考手机摄像头使用",
        "This QR code shows the question on another phone; it cannot be used as a second camera",
    ),
    "not_room_examiner": ("您不是该考场的考官", "You are not an examiner of this room"),
    "queue_reason_disconnected": (
        "网络连接中断超过等待时限，已离开队列；时段内可重新进入候考",
        "Disconnected for too long: you left the queue; you may enter again within your slot",
    ),
    "queue_reason_slot_over": ("考试时段已结束", "The time slot is over"),
    "queue_reason_no_show": ("未在预约时段内进入候考（缺考）", "Did not enter the queue during the slot (absent)"),
    "queue_reason_booking_cancelled": (
        "学校已取消您本时段的预约，请返回“我的考试”查看原因并重新预约",
        "The school cancelled your booking for this slot; see 'My exams' for the reason and book again",
    ),
    "queue_reason_identity_moved": (
        "经监考老师审核，该身份证号已转给提交申诉的本人账号，您已离开队列",
        "After review the ID number was moved to the appellant's account; you left the queue",
    ),
    "queue_reason_face_check_locked": (
        "人脸核验连续 3 次未通过，已转人工审核",
        "Three failed face checks: a proctor will review",
    ),
    "queue_reason_face_room_failed": (
        "进入考场时人脸核验未通过，请重新进行人脸核验",
        "The face check on entering the room failed: please do the face check again",
    ),
    "queue_reason_called_disconnected": (
        "叫号后网络连接中断时间过长，已回到队列原位置；重新连接后请等待再次叫号",
        "You were called but disconnected for too long: you are back at your place in line; reconnect and wait to be called again",
    ),
    "queue_reason_face_review_rejected": (
        "人工审核未通过，请联系学校",
        "The manual review rejected the check; contact the school",
    ),
    "queue_state_waiting_face_check": ("等待人脸核验", "Waiting for face check"),
    "queue_state_waiting": ("候考中", "Waiting"),
    "queue_state_called": ("已叫号", "Called"),
    "queue_state_in_room": ("面试中", "In the interview"),
    "queue_state_done": ("面试已结束", "Interview over"),
    "queue_state_absent": ("缺考", "Absent"),
    "queue_state_removed": ("已移出", "Removed"),
    "queue_state_review_pending": ("等待人工审核", "Waiting for manual review"),
    # interview rooms (docs/signaling.md, docs/rooms.md)
    "room_on_other_server": (
        "该考场的音视频在另一台服务器上，请刷新页面重试",
        "This room's media is on another server; reload the page",
    ),
    "sdp_too_large": ("音视频协商数据过大", "The session description is too large"),
    "sdp_invalid": (
        "音视频协商数据无法识别，请刷新页面重试",
        "The session description could not be read; reload the page",
    ),
    "no_usable_codec": (
        "浏览器不支持所需的音视频编码（VP8/Opus），请换用最新版 Chrome 或 Safari",
        "The browser offers no usable codec (VP8/Opus); use a current Chrome or Safari",
    ),
    "media_not_allowed": ("不允许发送该类型的音视频", "This kind of media may not be sent here"),
    "unexpected_answer": ("没有等待应答的协商", "No offer is waiting for an answer"),
    "unknown_participant": ("尚未加入考场音视频", "Not connected to the room's media yet"),
    "already_joined": ("已加入考场音视频", "Already connected to the room's media"),
    "room_closed": ("考场已关闭", "The room is closed"),
    "no_video": ("没有收到视频画面", "No video is arriving"),
    "bad_kind": ("参与者类型不正确", "Unknown participant kind"),
    "face_no_frames": (
        "未收到考生的视频画面，无法进行人脸核验",
        "No video from the candidate: the face check could not run",
    ),
    "room_events_rate_limited": ("操作过于频繁，请稍后再试", "Too many page events; try again in a moment"),
    "room_event_unknown": ("不支持的页面事件", "Unknown page event"),
    "phrase_unknown": ("不支持的快捷短语", "Unknown quick phrase"),
    "phrase_cant_hear": ("听不到考官的声音", "I can't hear you"),
    "phrase_cant_see": ("看不到考官的画面", "I can't see you"),
    "phrase_frozen": ("画面卡住了", "The picture froze"),
    "phrase_echo": ("有回声", "There is an echo"),
    "phrase_repeat": ("请考官再说一遍", "Please say that again"),
    "phrase_ready": ("我准备好了", "I am ready"),
    "aux_token_invalid": (
        "二维码无效或已过期，请在考生手机上刷新二维码后重新扫码",
        "This QR code is invalid or expired; refresh it on the candidate's phone and scan again",
    ),
    "aux_device_invalid": ("设备标识不正确，请重新扫码", "Bad device id; scan the code again"),
    "aux_device_limit": (
        "该考生的辅机位设备已达上限（最多 {max} 台），请继续使用已连接过的设备",
        "This candidate already has the most auxiliary cameras allowed ({max}); use one of those devices",
    ),
    "aux_token_logged_out": (
        "考生已退出登录，此二维码已失效。请考生重新登录后刷新二维码，再重新扫码",
        "The candidate has logged out, so this QR code no longer works: log in again on the candidate's phone, "
        "refresh the QR code and scan it again",
    ),
    "aux_token_replaced": (
        "此二维码已失效（考生已重新登录，或本场面试已结束），请在考生手机上刷新二维码后重新扫码",
        "This QR code no longer works (the candidate logged in again, or the interview is over): refresh it on "
        "the candidate's phone and scan it again",
    ),
    "aux_ended": (
        "考生已退出登录或本场面试已结束，辅机位已断开。如需继续，请在考生手机上刷新二维码后重新扫码",
        "The candidate logged out or the interview is over, so this camera is disconnected: to go on, refresh "
        "the QR code on the candidate's phone and scan it again",
    ),
    # a room's media takes one candidate, aux_max_devices auxiliary cameras and three examiners
    "room_full_candidate": ("考场中已有其他考生，请等待叫号", "Another candidate is in the room; wait to be called"),
    "room_full_aux": (
        "本场面试的辅机位已满（最多 {max} 台），无法再加入",
        "This interview already has the most auxiliary cameras allowed ({max})",
    ),
    "room_full_examiners": (
        "考场的考官人数已满（最多 {max} 位）",
        "The room already has the most examiners allowed ({max})",
    ),
    # every socket of a stopping process (server:restarting): the page reconnects by itself
    "server_restarting": (
        "服务器正在重启，页面会自动重新连接，请稍候",
        "The server is restarting; the page reconnects by itself, please wait",
    ),
    # a socket whose login session ended (session:ended, and the refusal of its events)
    "session_ended": ("登录已失效，请重新登录", "Your login has ended; please log in again"),
    "session_ended_logout": ("您已退出登录，本页面的连接已断开", "You logged out; this page's connection is closed"),
    "session_ended_account_disabled": (
        "账号已被停用，连接已断开。如有疑问请联系学校",
        "This account has been disabled and its connection closed; contact the school if this is a mistake",
    ),
    "session_ended_revoked": ("登录已被学校注销，请重新登录", "The school ended this login; please log in again"),
    "session_ended_role_changed": ("账号角色已变更，请重新登录", "The account's role changed; please log in again"),
    "session_ended_identity_moved": (
        "账号的身份信息已变更，请重新登录",
        "This account's identity changed; please log in again",
    ),
    "session_ended_expired": ("登录已过期，请重新登录", "Your login expired; please log in again"),
    "aux_wait": (
        "考生尚未进入考场，请保持本页面打开，叫号后自动连接",
        "The candidate is not in the room yet; keep this page open, it connects when they are called",
    ),
    # roster import warnings (the row is imported)
    "row_no_photo": ("未提供证件照，考生将无法通过人脸比对", "No ID photo: this candidate cannot pass the face check"),
    # contact codes (server/accounts/codes.py)
    "code_invalid": (
        "验证码错误或已失效，请重新获取验证码",
        "The verification code is wrong or no longer valid; request a new one",
    ),
    "code_wait": (
        "验证码已发送，请 {seconds} 秒后再重新获取",
        "A code was just sent; you can ask again in {seconds} s",
    ),
    "code_rate_limited": (
        "获取验证码次数过多，请 {minutes} 分钟后再试",
        "Too many verification codes requested; try again in {minutes} minutes",
    ),
    "register_rate_limited": (
        "注册请求过于频繁，请 {minutes} 分钟后再试",
        "Too many registrations from here; try again in {minutes} minutes",
    ),
    "notify_failed": (
        "验证码发送失败，请稍后再试",
        "The verification code could not be sent; please try again later",
    ),
    "code_purpose_invalid": ("验证码用途不正确", "Unknown purpose for a verification code"),
    "contact_one_only": ("请只填写手机号或邮箱中的一项", "Give either a phone number or an email, not both"),
    # upload takes: a file filmed offline (server/recorded/uploads.py, server/http/uploads_api.py)
    "upload_not_allowed": (
        "本科目不支持上传本地视频，请在页面上直接录制",
        "This subject does not take uploaded files: record on this page",
    ),
    "upload_format": (
        "不支持的视频格式（{format}），请上传 mp4、mov 或 webm 格式的视频文件",
        "Unsupported video format ({format}): upload an mp4, mov or webm file",
    ),
    "upload_too_large": (
        "视频文件过大（{size}），单个视频文件不能超过 {limit}；请将相机设置为 720P、30fps 后重新录制",
        "The video file is too large ({size}); the limit is {limit}. Set the camera to 720p, 30 fps and film again",
    ),
    "upload_empty": ("视频文件是空的，请重新选择", "The video file is empty; choose another"),
    "upload_not_found": (
        "没有找到这次上传（可能已取消，或不属于您）",
        "No such upload (it may have been cancelled, or is not yours)",
    ),
    "upload_over": (
        "这次上传已结束（已完成、已取消或已超时），不能再继续；如需上传，请重新选择文件",
        "This upload is over (complete, cancelled or timed out); to upload, choose the file again",
    ),
    "upload_sitting_over": (
        "本场考试已结束（已提交、已重置或已过截止时间），不能再上传视频",
        "This sitting is over (submitted, reset or past its deadline): no more uploads",
    ),
    "upload_chunk_too_large": ("单次上传的数据过大（上限 {limit}）", "One upload request is too large (limit {limit})"),
    "upload_exceeds_length": (
        "上传的数据超过了开始上传时声明的文件大小（{length} 字节），本次数据未保存",
        "The data goes past the file size declared at the start ({length} bytes); none of it was kept",
    ),
    "upload_offset_mismatch": (
        "上传位置不一致：服务器已收到 {offset} 字节，请从该位置继续上传",
        "Wrong upload position: the server holds {offset} bytes; continue from there",
    ),
    "upload_offset_invalid": ("上传位置（Upload-Offset）缺失或不正确", "Upload-Offset is missing or not valid"),
    "upload_busy": (
        "这个视频正在另一个连接中上传，请稍候再试",
        "This video is being uploaded over another connection; try again shortly",
    ),
    "upload_length_required": (
        "请提供视频文件的大小（Upload-Length）",
        "The file's size (Upload-Length) is required",
    ),
    "upload_metadata_invalid": ("上传信息（Upload-Metadata）格式不正确", "Upload-Metadata is malformed"),
    "upload_tus_version": (
        "上传协议版本不受支持（需要 tus {version}），请刷新页面后重试",
        "Unsupported upload protocol (tus {version} needed): reload the page and try again",
    ),
    "upload_not_video": (
        "上传的文件不是视频（无法识别为 mp4、mov 或 webm 视频），请选择用相机录制的视频文件",
        "The file is not a video (not a readable mp4, mov or webm): choose a video filmed with the camera",
    ),
    "upload_truncated": (
        "视频文件不完整或已损坏（可能未完整保存或被截断），请确认视频能在手机上完整播放后重新上传",
        "The video file is incomplete or damaged (not fully saved, or cut short): check it plays "
        "to the end on the phone, then upload it again",
    ),
    "upload_no_video": (
        "文件中没有视频画面，请上传用相机录制的视频",
        "The file has no picture: upload a video filmed with the camera",
    ),
    "upload_resolution": (
        "视频分辨率过高（{width}×{height}），请将相机设置为 720P（最长边不超过 {max} 像素）后重新录制",
        "The video's resolution is too high ({width}x{height}): set the camera to 720p (at most {max} pixels) and film again",
    ),
    "upload_undecodable": (
        "无法解码视频画面（编码格式不受支持或文件已损坏），请用手机相机重新录制后上传",
        "The picture cannot be decoded (an unsupported codec, or a damaged file): film again with the phone's camera",
    ),
    "upload_too_long": (
        "视频时长 {duration}，超过本科目单条视频最长 {max}，请重新录制",
        "The video lasts {duration}, longer than this subject's longest take ({max}): film it again",
    ),
    "upload_abandoned": (
        "上传长时间没有进展，已自动取消，不计入录制次数；请重新上传",
        "The upload made no progress for a long time and was cancelled; it does not count. Upload again",
    ),
    "upload_cancelled": ("已取消上传，不计入录制次数", "Upload cancelled; it does not count"),
    "upload_processing_failed": (
        "服务器处理视频时出错，不计入录制次数；请重新上传，或直接在页面上录制",
        "The server could not process the video; it does not count. Upload again, or record on this page",
    ),
    # the room-entry face check (facecheck/room_checks.py)
    "room_check_unverified": (
        "该考生进入考场时的人脸核验尚未通过：请先重新核验，或由考官说明理由后人工确认，再提交评分",
        "The candidate's face check on entering the room has not passed: run it again, or confirm the candidate yourself with a reason, before submitting marks",
    ),
    "room_check_timeout": ("人脸核验超时，未能完成", "The face check took too long and did not finish"),
    "room_check_running": ("人脸核验正在进行，请稍候", "A face check is running; please wait"),
    "room_check_cleared": ("该考生已核验，无需重新核验", "The candidate is already verified"),
    "room_check_rate_limited": (
        "重新核验过于频繁，请 {minutes} 分钟后再试",
        "Too many face checks for this candidate; try again in {minutes} minutes",
    ),
    "room_check_not_found": (
        "未找到本考场该考生的入场人脸核验（重新核验须考生在考场中）",
        "No room face check of that interview in this room (checking again needs the candidate in the room)",
    ),
    # marking, issue 16's rest: excusing an absent examiner (server/marking/interview_marks.py)
    "marks_excused": (
        "管理员已免除您对这场面试的评分，不能再评分",
        "An admin excused you from marking this interview",
    ),
    "marks_excused_already": ("该考官已被免除评分", "This examiner is already excused"),
    "marks_excuse_sealed": (
        "该考官已提交评分，不能免除（如需更正请先重新开放）",
        "This examiner has submitted marks and cannot be excused (reopen them first)",
    ),
    "marks_excuse_not_ended": ("面试尚未结束，结束后才能免除考官评分", "The interview is not over yet"),
    "marks_excuse_last": (
        "至少要有一位考官为这场面试评分，不能免除最后一位考官",
        "At least one examiner must mark the interview; the last one cannot be excused",
    ),
    # a staff member is never a candidate of an exam they work on (server/exams/staff.py)
    "identity_staff": (
        "工作人员账号不能进行考生身份认证，请使用考生账号",
        "A staff account cannot verify a candidate's identity; use a candidate account",
    ),
    "staff_on_roster": (
        "{name} 的证件号码在本场考试的考生名单上：工作人员不能同时是本场考试的考生",
        "{name}'s ID number is on this exam's roster: a staff member cannot also be a candidate of it",
    ),
    "staff_id_candidate": (
        "考生的证件号码通过身份认证核对，不能由管理员设置",
        "A candidate's ID number comes from identity verification, not from an admin",
    ),
    "roster_staff_conflict": (
        "导入期间有工作人员被分配到本场考试，且其证件号码在本次名单中，请重新导入",
        "A staff member whose ID number is in this file was assigned to the exam meanwhile; import again",
    ),
    "row_staff_of_exam": (
        "该证件号码属于本场考试的工作人员（{name}），工作人员不能同时是本场考试的考生",
        "This ID number is that of a staff member of this exam ({name}); staff cannot also be candidates",
    ),
    "grading_not_open": (
        "“{subject}”的考试时间到 {closes}（北京时间）结束，结束后才能评阅",
        "“{subject}” is graded once its exam time is over ({closes}, Beijing time)",
    ),
    "results_changed": (
        "成绩在检查期间有变动（评分提交、重新开放、免除或新的面试），请确认后重新锁定",
        "The marks changed while the results were being checked (a seal, reopening, excuse or new interview): check and lock again",
    ),
    "results_settings_conflict": (
        "公布方式刚被其他管理员修改过，请刷新后确认再保存",
        "Another admin just changed the wording; refresh and save again",
    ),
    # several nodes (docs/nodes.md)
    "no_media_node": (
        "音视频服务器繁忙，正在自动重试，请稍候",
        "Every media server is busy; retrying by itself, please wait",
    ),
    "media_node_timeout": (
        "音视频服务器暂未响应，正在自动重新连接，请稍候",
        "The media server did not answer; reconnecting by itself, please wait",
    ),
    "recording_node_offline": (
        "保存该录像的服务器 {node} 暂时离线，请稍后再试",
        "The server holding this recording ({node}) is offline; try again later",
    ),
    "node_forbidden": ("节点间请求未通过验证", "The request between servers was not authenticated"),
    "node_not_found": ("没有该服务器节点", "No such server node"),
    "range_not_satisfiable": ("请求的文件范围无效", "The requested range of the file is not available"),
}


# Labels of codes that pages show (audit events, reasons, states, audit details; sent to the staff pages
# as JSON by base.html, see server/http/pages.py) and parts of composed messages. Not codes the API
# answers (those are MESSAGES above). tests/http/test_labels.py checks every audit event has one.
LABELS: dict[str, tuple[str, str]] = {
    # nobody_ready with the reason of each waiting candidate (queue_call.lua): "{count}" waiting, "{detail}"
    # one clause per reason, joined by nobody_ready_sep
    "nobody_ready_detail": (
        "暂无可叫号的考生（候考 {count} 人）：{detail}",
        "Nobody can be called yet ({count} waiting): {detail}",
    ),
    "nobody_ready_face_check_pending": (
        "{names} 尚未通过人脸核验（等待人脸核验），通过后才能叫号",
        "{names}: the face check has not passed yet; they can be called once it passes",
    ),
    "nobody_ready_disconnected": (
        "{names} 已断线，重新连接后才能叫号",
        "{names}: disconnected; they can be called once back online",
    ),
    "nobody_ready_slot_not_started": (
        "{names} 的考试时段 {starts}（北京时间）开始，开始后才能叫号",
        "{names}: the slot starts at {starts} (Beijing time); they can be called from then",
    ),
    "nobody_ready_state": ("{names}：{state}", "{names}: {state}"),
    "nobody_ready_sep": ("；", "; "),
    "names_sep": ("、", ", "),
    "names_more": ("{names} 等 {count} 人", "{names} and {more} more"),
    # audit events: event_<event>
    "event_exam_created": ("创建考试", "Exam created"),
    "event_exam_updated": ("修改考试", "Exam updated"),
    "event_subject_created": ("添加科目", "Subject added"),
    "event_room_created": ("创建考场", "Room created"),
    "event_slot_created": ("创建考试时段", "Slot created"),
    "event_slot_capacity_changed": ("修改时段容量", "Slot capacity changed"),
    "event_roster_imported": ("导入考生名单", "Roster imported"),
    "event_roster_entry_imported": ("名单新增考生", "Roster entry added"),
    "event_roster_entry_updated": ("名单更新考生", "Roster entry updated"),
    "event_account_created": ("创建账号", "Account created"),
    "event_account_expired": ("未认证账号过期删除", "Unverified account expired"),
    "event_exam_proctors_set": ("设置巡考老师", "Proctors assigned"),
    "event_subject_graders_set": ("设置录制科目评阅老师", "Graders assigned"),
    "event_rubric_set": ("设置评分标准", "Rubric set"),
    "event_take_marks_assigned": ("分配录制作品评阅", "Submission assigned to graders"),
    "event_take_third_missing": ("分差超限但无第三位评阅老师可分配", "Gap over the threshold, no third grader left"),
    "event_take_mark_sealed": ("提交录制作品评分", "Submission marks submitted"),
    "event_take_mark_reopened": ("重新开放录制作品评分", "Submission marks reopened"),
    "event_take_marks_withdrawn": ("录制作品已撤回，评阅随之取消", "Submission withdrawn, its marking removed"),
    "event_results_settings": ("设置成绩公布方式", "Results wording set"),
    "event_results_locked": ("锁定成绩", "Results locked"),
    "event_results_published": ("发布成绩", "Results published"),
    "event_marks_saved": ("保存评分草稿", "Marks draft saved"),
    "event_marks_sealed": ("提交评分", "Marks submitted"),
    "event_marks_reopened": ("重新开放评分", "Marks reopened"),
    "event_account_disabled": ("停用账号", "Account disabled"),
    "event_account_enabled": ("启用账号", "Account enabled"),
    "event_identity_verified": ("身份认证通过", "Identity verified"),
    "event_identity_appeal_opened": ("提交身份认证申诉", "Identity appeal filed"),
    "event_identity_appeal_approved": ("身份认证申诉通过", "Identity appeal approved"),
    "event_identity_appeal_rejected": ("身份认证申诉驳回", "Identity appeal rejected"),
    "event_exam_confirmed": ("确认考试", "Exam confirmed"),
    "event_notice_read": ("阅读考前须知", "Notice read"),
    "event_pledge_signed": ("签署诚信承诺书", "Pledge signed"),
    "event_slot_booked": ("预约考试时段", "Slot booked"),
    "event_booking_cancelled": ("取消预约", "Booking cancelled"),
    "event_face_check_passed": ("人脸比对通过", "Face check passed"),
    "event_face_check_failed": ("人脸比对未通过", "Face check failed"),
    "event_room_check_unverified": ("入场人脸核验未完成", "Room face check not done"),
    "event_room_check_retried": ("重新核验入场人脸", "Room face check run again"),
    "event_room_check_overridden": ("考官人工确认身份", "Identity confirmed by an examiner"),
    # the room-entry face check on the examiner's room page: room_face_<state> (facecheck/room_checks.py)
    "room_face_none": ("人脸：未核验", "Face: not verified yet"),
    "room_face_checking": ("人脸：核验中…", "Face: checking…"),
    "room_face_verified": ("人脸：已核验", "Face: verified"),
    "room_face_unverified": ("人脸：未核验", "Face: NOT verified"),
    "room_face_failed": ("人脸：未通过", "Face: failed"),
    "room_face_overridden": ("人脸：考官已确认", "Face: confirmed by an examiner"),
    "room_face_off": ("人脸核验未启用", "Face check turned off"),
    # flags raised while the interview is watched (facecheck/watch.py, signaling/monitoring.py)
    "flag_face_missing": ("画面中无人脸", "No face in the picture"),
    "flag_face_multiple": ("画面中有多张人脸", "Several faces in the picture"),
    "flag_face_mismatch": ("人脸与报名照片不符", "The face does not match the roster photo"),
    "flag_raised": ("异常：{flag}", "Flag: {flag}"),
    "flag_cleared": ("已恢复：{flag}", "Cleared: {flag}"),
    "alarm_monitoring_degraded_raised": (
        "监考抽帧降级：人脸比对服务繁忙，画面抽查间隔已达上限",
        "Monitoring degraded: the face pool is busy, samples are as far apart as allowed",
    ),
    "alarm_monitoring_degraded_cleared": ("监考抽帧已恢复正常", "Monitoring back to normal"),
    "prompt_face": ("请保持正脸在画面中", "Please keep your face in the picture, facing the camera"),
    "prompt_recording": ("录制中断，请尽快恢复", "Recording interrupted: please go back to the interview at once"),
    "prompt_battery": ("电量不足，请立即充电", "Battery low: please plug in your charger now"),
    "flag_page_hidden": ("考生切出了面试页面", "The candidate left the interview page"),
    "flag_camera_off": ("考生摄像头已关闭或中断", "The candidate's camera is off or interrupted"),
    "flag_microphone_off": ("考生麦克风已关闭或中断", "The candidate's microphone is off or interrupted"),
    "flag_battery_low": ("考生设备电量不足", "The candidate's battery is low"),
    "event_monitor_flag_raised": ("监考异常", "Proctoring flag raised"),
    "event_monitor_flag_cleared": ("监考异常已恢复", "Proctoring flag cleared"),
    "detail_previous": ("此前原因", "Reason before"),
    "event_face_review_opened": ("转人脸人工审核", "Face review opened"),
    "event_face_review_approved": ("人脸审核通过", "Face review approved"),
    "event_face_review_rejected": ("人脸审核驳回", "Face review rejected"),
    "event_queue_joined": ("进入候考", "Joined the queue"),
    "event_queue_reentered": ("重新进入候考", "Joined the queue again"),
    "event_queue_called": ("叫号", "Called"),
    "event_queue_in_room": ("进入面试房间", "Entered the room"),
    "event_queue_done": ("面试结束", "Interview finished"),
    "event_queue_removed": ("移出考场", "Removed"),
    "event_queue_absent": ("缺考 / 离开队列", "Absent / left the queue"),
    "event_queue_disconnected": ("断线", "Disconnected"),
    "event_queue_reconnected": ("重新连接", "Reconnected"),
    "event_queue_call_released": ("叫号后断线超时，释放考场", "Called but disconnected too long: room released"),
    "event_queue_face_cleared": ("人脸核验通过，开始候考", "Face check cleared, waiting"),
    "event_queue_face_locked": ("人脸核验转人工审核", "Face check sent to manual review"),
    "event_queue_face_room_failed": ("入场人脸核验未通过", "Room face check failed"),
    "event_queue_restored": ("恢复排队位置", "Place in line restored"),
    "event_node_drain": ("服务器节点停止接收新考场", "Server node draining"),
    "event_node_undrain": ("服务器节点恢复接收考场", "Server node takes rooms again"),
    "event_recording_started": ("开始录制", "Recording started"),
    "event_recording_stopped": ("停止录制", "Recording stopped"),
    "event_sessions_revoked": ("注销登录会话", "Sessions revoked"),
    "event_roster_photo_replaced": ("更换证件照", "ID photo replaced"),
    "event_demo_exam_retired": ("演示考试已由新考试替换", "Demo exam replaced by a new one"),
    "event_subject_updated": ("修改科目", "Subject updated"),
    "event_sitting_entered": ("进入录制考试（开始倒计时）", "Entered a recorded exam (countdown started)"),
    "event_sitting_submitted": ("提交考试视频", "Take submitted"),
    "event_take_identity_checked": ("录制视频人脸比对", "Take identity checked"),
    "event_sitting_auto_submitted": ("倒计时结束，自动提交", "Deadline passed: take submitted automatically"),
    "event_sitting_absent": ("倒计时结束，无完整视频（缺考）", "Deadline passed with no complete take (absent)"),
    "event_sitting_reset": ("重置考试", "Sitting reset"),
    "event_take_started": ("开始录制视频", "Take started"),
    "event_take_ended": ("结束录制视频", "Take ended"),
    "event_take_playable": ("视频可回放", "Take playable"),
    "event_take_uploaded": ("视频文件上传完成", "Take file uploaded"),
    "event_take_upload_checked": ("上传的视频已检查", "Uploaded take checked"),
    "event_take_upload_failed": ("上传的视频未被接受", "Uploaded take failed"),
    "event_take_photo_added": ("上传作品照片", "Photo of the work added"),
    "event_take_photo_removed": ("删除作品照片", "Photo of the work removed"),
    "event_question_added": ("添加题目", "Question added"),
    "event_questions_imported": ("导入题库", "Questions imported"),
    "event_question_deleted": ("删除题目", "Question deleted"),
    "event_guided_steps_set": ("设置指定项目步骤", "Guided steps set"),
    "event_take_answer_started": ("提前结束准备，开始作答", "Preparation cut short: answer started"),
    "event_take_steps_started": ("指定项目开始", "Guided steps started"),
    # a recorded sitting's and take's states (staff pages and the candidate's recorded page)
    "sitting_state_not_started": ("未开始", "Not started"),
    "sitting_state_in_progress": ("考试中", "In progress"),
    "sitting_state_submitted": ("已提交", "Submitted"),
    "sitting_state_auto_submitted": ("已自动提交", "Submitted automatically"),
    "sitting_state_absent": ("缺考", "Absent"),
    "sitting_state_reset": ("已重置", "Reset"),
    "sitting_mode_formal": ("正式考", "Formal exam"),
    "sitting_mode_mock": ("模拟考", "Mock exam"),
    "sitting_mode_practice": ("练习", "Practice"),
    "take_state_recording": ("录制中", "Recording"),
    "take_state_complete": ("已完成", "Complete"),
    "take_state_cut": ("录制中断", "Cut short"),
    "take_state_failed": ("录制失败", "Failed"),
    "take_state_uploading": ("上传中", "Uploading"),
    "take_state_processing": ("处理中", "Processing"),
    "take_state_discarded": ("已重置作废", "Discarded (reset)"),
    # the server's reasons as staff read them: reason_<code> (queue.entries.SYSTEM_REASONS)
    "reason_disconnected": ("断线超过等待时限", "Disconnected beyond the grace period"),
    "reason_slot_over": ("考试时段已结束", "The slot is over"),
    "reason_deadline": ("考试倒计时结束", "The sitting's deadline passed"),
    "reason_photo_limit": ("作品拍照时间结束", "The time to photograph the work ended"),
    "reason_no_show": ("未进入候考（缺考）", "Never entered the queue (absent)"),
    "reason_face_check_locked": ("人脸核验连续 3 次未通过，转人工审核", "Three failed face checks: manual review"),
    "reason_face_room_failed": ("入场人脸核验未通过", "The room face check failed"),
    "reason_face_review_rejected": ("人工审核驳回", "Rejected by the manual review"),
    "reason_booking_cancelled": ("学校取消了预约", "The school cancelled the booking"),
    "reason_called_disconnected": ("叫号后断线超时，已回到队列", "Called but disconnected too long: back in line"),
    "reason_identity_moved": ("身份申诉通过，身份转给申诉人", "Identity moved to the appellant by an appeal"),
    # face-check status of a queue entry: face_status_<status>
    "face_status_passed": ("已通过", "Passed"),
    "face_status_approved": ("人工审核通过", "Approved"),
    "face_status_failed": ("未通过", "Failed"),
    "face_status_locked": ("待人工审核", "In manual review"),
    "face_status_rejected": ("审核驳回", "Rejected"),
    "face_status_none": ("未核验", "Not checked"),
    "face_status_expired": ("已过期，需重新核验", "Expired, check again"),
    "face_kind_queue": ("候考人脸核验", "queue face check"),
    "face_kind_room": ("入场人脸核验", "room face check"),
    # audit details: detail_<key of the entry's data>
    "detail_node_id": ("服务器节点", "Server node"),
    "detail_room": ("考场", "Room"),
    "detail_room_id": ("考场", "Room"),
    "detail_slot": ("考试时段", "Slot"),
    "detail_slot_id": ("考试时段", "Slot"),
    "detail_subject_id": ("科目", "Subject"),
    "detail_subjects": ("报考科目", "Subjects"),
    "detail_state": ("状态", "State"),
    "detail_from": ("原状态", "From"),
    "detail_to": ("新状态", "To"),
    "detail_arrival": ("到达序号", "Arrival no."),
    "detail_device": ("设备", "Device"),
    "detail_waited_s": ("等待", "Waited"),
    "detail_away_s": ("离线", "Away"),
    "detail_reason": ("原因", "Reason"),
    "detail_comment": ("意见", "Comment"),
    "detail_note": ("说明", "Note"),
    "detail_count": ("数量", "Count"),
    "detail_replaced_by": ("替换为", "Replaced by"),
    "detail_photo": ("证件照", "ID photo"),
    "detail_resumed": ("续录", "Resumed"),
    "detail_status": ("结果", "Result"),
    "detail_tracks": ("音视频轨", "Tracks"),
    "detail_bytes": ("大小", "Size"),
    "detail_distance": ("比对距离", "Distance"),
    "detail_kind": ("类型", "Kind"),
    "detail_strikes": ("连续未通过次数", "Failures in a row"),
    "detail_name": ("名称", "Name"),
    "detail_school": ("学校", "School"),
    "detail_interview_minutes": ("面试时长", "Interview length"),
    "detail_examiners": ("考官", "Examiners"),
    "detail_starts_at": ("开始", "Starts"),
    "detail_ends_at": ("结束", "Ends"),
    "detail_capacity": ("容量", "Capacity"),
    "detail_before": ("原值", "Before"),
    "detail_after": ("新值", "After"),
    "detail_imported": ("新增", "Added"),
    "detail_updated": ("更新", "Updated"),
    "detail_rejected": ("未通过", "Rejected"),
    "detail_id_number": ("证件号码", "ID number"),
    "detail_exams": ("考试", "Exams"),
    "detail_claimed_by": ("当前持有账号", "Held by"),
    "detail_previous_holder": ("原持有账号", "Previous holder"),
    "detail_role": ("角色", "Role"),
    "detail_username": ("用户名", "Username"),
    "detail_phone": ("手机号", "Phone"),
    "detail_email": ("邮箱", "Email"),
    "detail_reminded": ("已提醒下一位", "Reminded next"),
    "detail_booking_opens": ("预约开放", "Booking opens"),
    "detail_booking_closes": ("预约截止", "Booking closes"),
    "detail_notice": ("考前须知", "Notice"),
    "detail_pledge": ("诚信承诺书", "Pledge"),
    # internal ids and paths: an empty label keeps them out of the readable details
    "detail_admission": ("", ""),
    "detail_interview_id": ("", ""),
    "detail_folder": ("", ""),
    "detail_check_id": ("", ""),
    "detail_review_id": ("", ""),
    "detail_appeal_id": ("", ""),
    "detail_created_at": ("注册时间", "Registered at"),
    "detail_proctors": ("巡考老师", "Proctors"),
    "detail_graders": ("评阅老师", "Graders"),
    "detail_code": ("匿名编号", "Anonymous code"),
    "detail_round": ("评阅轮次", "Round"),
    "detail_grader": ("评阅老师", "Grader"),
    "detail_sealed": ("已提交的评分", "Sealed sheets"),
    "detail_examiner": ("考官", "Examiner"),
    "detail_marks": ("各项分数", "Marks"),
    "detail_total": ("总分", "Total"),
    "detail_at": ("时间", "Time"),
    "detail_at_s": ("录像时间点（秒）", "Time into the recording (s)"),
    "detail_candidates": ("名单人数", "Candidates on the roster"),
    "detail_settings": ("成绩公布方式", "Results wording"),
    "detail_criteria": ("评分项", "Criteria"),
    "detail_step": ("评分步长", "Step"),
    "detail_combine": ("合分方式", "Combination"),
    "detail_markers": ("评阅人数", "Markers"),
    "detail_gap": ("分差阈值", "Gap"),
    "detail_final": ("最终成绩", "Final mark"),
    "detail_sealed_at": ("提交时间", "Submitted at"),
    "detail_evidence_passed": ("申诉人人脸比对通过", "Appellant passed the face check"),
    "detail_moved_bookings": ("转移的预约时段", "Bookings moved"),
    "detail_pledge_sha256": ("", ""),
    "detail_sitting_id": ("", ""),
    "detail_take_id": ("", ""),
    "detail_rules": ("录制考试规则", "Recorded exam rules"),
    "detail_mode": ("考试类型", "Mode"),
    "detail_number": ("次序", "Number"),
    "detail_deadline": ("截止时间", "Deadline"),
    "detail_camera": ("摄像头", "Camera"),
    "detail_orientation": ("横竖屏", "Orientation"),
    "detail_duration_s": ("时长", "Length"),
    "detail_counts": ("计入录制次数", "Counts as a take"),
    "detail_sha256": ("校验值", "Checksum"),
    "detail_source": ("来源（upload：上传的文件）", "Source (upload: an uploaded file)"),
    "detail_length": ("文件大小（字节）", "File size (bytes)"),
    "detail_size": ("文件大小（字节）", "File size (bytes)"),
    "detail_container": ("封装格式", "Container"),
    "detail_video_codec": ("视频编码", "Video codec"),
    "detail_audio_codec": ("音频编码", "Audio codec"),
    "detail_width": ("宽（像素）", "Width (px)"),
    "detail_height": ("高（像素）", "Height (px)"),
    "detail_fps": ("帧率", "Frame rate"),
    "detail_video": ("视频画面（copied：原样保留，encoded：已转码）", "Picture (copied or encoded)"),
    "detail_audio": ("声音（copied：原样保留，encoded：已转码）", "Sound (copied or encoded)"),
    "detail_photo_id": ("", ""),
    "detail_photo_time_ends_at": ("拍照截止时间", "Photo time ends"),
    "detail_photos": ("作品照片", "Photos"),
    "detail_form": ("录制形式", "Form"),
    "detail_question_id": ("题目编号", "Question"),
    "detail_uses": ("各用途题数", "Questions per pool"),
    "detail_use": ("用途", "Pool"),
    "detail_drawn": ("已抽取次数", "Times drawn"),
    "detail_steps": ("步骤数", "Steps"),
    "detail_total_s": ("总时长（秒）", "Total length (s)"),
    "detail_early": ("提前开始作答", "Started early"),
    "detail_prepared_s": ("准备用时（秒）", "Prepared (s)"),
    "detail_again": ("沿用上一条未完成录制的题目", "The question of the last take, which did not complete"),
    # roles, recordings
    "role_candidate": ("考生", "candidate"),
    "role_examiner": ("考官", "examiner"),
    "role_proctor": ("巡考", "proctor"),
    "role_admin": ("管理员", "admin"),
    "role_system": ("系统", "system"),
    "rec_state_recording": ("录制中", "Recording"),
    "rec_state_stopped": ("已完成", "Complete"),
    "rec_state_failed": ("录制失败", "Failed"),
    "rec_state_recovered": ("已保存（录制时服务器中断）", "Saved (the server stopped while recording)"),
    "rec_state_closed": ("已完成", "Complete"),
    "track_kind_video": ("视频", "video"),
    "track_kind_audio": ("音频", "audio"),
    "participant_kind_candidate": ("考生主机位", "candidate's camera"),
    "participant_kind_examiner": ("考官", "examiner"),
    "participant_kind_aux": ("辅机位", "auxiliary camera"),
    # a roster import report's row status: roster_row_<status>
    "roster_row_imported": ("已导入", "imported"),
    "roster_row_updated": ("已更新", "updated"),
    "roster_row_rejected": ("未通过", "rejected"),
    # contact codes: audit events, and the messages sent by SMS / email (server/accounts/codes.py);
    # {site} is the setting notify_site_name, {contact} the word for the phone or the email
    "event_password_reset": ("重置密码（验证码）", "Password reset (code)"),
    "event_contact_changed": ("更换手机号/邮箱（验证码）", "Phone/email changed (code)"),
    "notify_contact_phone": ("手机号", "phone number"),
    "notify_contact_email": ("邮箱", "email address"),
    "notify_subject_code": ("{site}验证码", "{site} verification code"),
    "notify_subject_notice": ("{site}账号提醒", "{site} account notice"),
    "notify_code_register": (
        "【{site}】验证码 {otp}，用于注册考生账号，{minutes} 分钟内有效。请勿告诉他人；如非本人操作，请忽略。",
        "[{site}] Your registration code is {otp}, valid for {minutes} minutes. Do not share it; if you did not ask for it, ignore this message.",
    ),
    "notify_code_reset": (
        "【{site}】验证码 {otp}，用于重置登录密码，{minutes} 分钟内有效。请勿告诉他人；如非本人操作，请忽略。",
        "[{site}] Your password reset code is {otp}, valid for {minutes} minutes. Do not share it; if you did not ask for it, ignore this message.",
    ),
    "notify_code_change": (
        "【{site}】验证码 {otp}，用于将此{contact}绑定到您的账号，{minutes} 分钟内有效。请勿告诉他人；如非本人操作，请忽略。",
        "[{site}] Your code to link this {contact} to your account is {otp}, valid for {minutes} minutes. Do not share it; if you did not ask for it, ignore this message.",
    ),
    "notify_register_taken": (
        "【{site}】此{contact}已注册考生账号，无需再次注册，请直接登录；忘记密码可在登录页点击“忘记密码”重置。如非本人操作，请忽略。",
        "[{site}] This {contact} already has an account: log in instead; if you forgot the password, use 'Forgot password' on the login page. If you did not ask, ignore this message.",
    ),
    "notify_reset_unknown": (
        "【{site}】有人申请用此{contact}重置密码，但它尚未注册考生账号。如需报名，请在注册页注册；如非本人操作，请忽略。",
        "[{site}] Someone asked to reset a password with this {contact}, but no account uses it. To take part, register on the registration page; if you did not ask, ignore this message.",
    ),
    "notify_change_taken": (
        "【{site}】有人申请将此{contact}绑定到另一个账号，但它已被其他账号使用，未做更改。如非本人操作，请忽略。",
        "[{site}] Someone asked to link this {contact} to another account, but an account already uses it; nothing was changed. If you did not ask, ignore this message.",
    ),
    "event_marks_excused": ("免除考官评分", "Examiner excused from marking"),
    "event_staff_id_number_set": ("设置工作人员证件号码", "Staff ID number set"),
    "detail_version": ("版本", "Version"),
}

# The labels the candidate's pages (and the aux camera's) read with common.js label(code), sent by base.html as
# <script type="application/json" id="candidate-labels">: queue states, face-check statuses, the quick phrases
# and the reasons as candidates read them. The staff pages get theirs from server/http/pages.py labels().
CANDIDATE_LABEL_PREFIXES = (
    "queue_state_",
    "face_status_",
    "phrase_",
    "queue_reason_",
    "sitting_state_",
    "sitting_mode_",
    "take_state_",
)


def candidate_labels(lang: str) -> dict[str, str]:
    """{code: label} in ``lang`` for the candidate's pages; nothing staff-only (events, details, roles...)."""
    return {
        c: label(c, lang)
        for c in [*MESSAGES, *LABELS]
        if c.startswith(CANDIDATE_LABEL_PREFIXES) and c != "phrase_unknown"
    }


def label(code: str, lang: str = "zh", **params: Any) -> str:
    """A label or message part of LABELS (else a message of MESSAGES), formatted like ``message``."""
    if code not in LABELS:
        return message(code, lang, **params)
    zh, en = LABELS[code]
    for name in [p for p in params if p.endswith("_code")]:
        params[name[:-5]] = message(params.pop(name), lang)
    try:
        return (en if lang == "en" else zh).format(**params)
    except (KeyError, IndexError):
        return en if lang == "en" else zh


FIELD_LABELS: dict[str, tuple[str, str]] = {
    "name": ("姓名", "Name"),
    "title": ("名称", "Name"),
    "phone": ("手机号", "Phone number"),
    "email": ("邮箱", "Email"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login": ("账号", "Account"),
    "id_number": ("证件号码", "ID number"),
    "role": ("角色", "Role"),
    "school": ("学校", "School"),
    "booking_opens": ("预约开放时间", "Booking opens"),
    "booking_closes": ("预约截止时间", "Booking closes"),
    "notice": ("考前须知", "Pre-exam notice"),
    "pledge": ("诚信承诺书", "Integrity pledge"),
    "subjects": ("科目", "Subjects"),
    "interview_minutes": ("面试时长（分钟）", "Interview length (minutes)"),
    "subject_id": ("科目", "Subject"),
    "room_id": ("考场", "Room"),
    "examiners": ("考官", "Examiners"),
    "starts_at": ("开始时间", "Start time"),
    "ends_at": ("结束时间", "End time"),
    "capacity": ("容量", "Capacity"),
    "slot_id": ("考试时段", "Time slot"),
    "agree": ("同意", "Agreement"),
    "approve": ("审核结果", "Decision"),
    "comment": ("审核意见", "Comment"),
    "reason": ("原因", "Reason"),
    "account_id": ("账号", "Account"),
    "disabled": ("停用", "Disabled"),
    "lang": ("语言", "Language"),
    "code": ("验证码", "Verification code"),
    "purpose": ("用途", "Purpose"),
    "kind": ("科目类型", "Subject kind"),
    "form": ("考试形式", "Exam form"),
    "takes_allowed": ("可录制次数", "Takes allowed"),
    "take_max_s": ("单条视频最长时长（秒）", "Longest take (seconds)"),
    "window_opens": ("考试开始时间", "Exam window opens"),
    "window_closes": ("考试结束时间", "Exam window closes"),
    "time_limit_min": ("考试规定时长（分钟）", "Time limit (minutes)"),
    "sittings_allowed": ("考试次数", "Entries allowed"),
    "cut_take_counts": ("中断的录制是否计入次数", "A cut take counts"),
    "mock_tries": ("模拟考次数", "Mock exams allowed"),
    "photo_time_limit_min": ("作品拍照时间（分钟）", "Time to photograph the work (minutes)"),
    "photos_min": ("作品照片最少张数", "Fewest photos"),
    "photos_max": ("作品照片最多张数", "Most photos"),
    "mode": ("考试类型", "Mode"),
    "device": ("设备", "Device"),
    "camera": ("摄像头", "Camera"),
    "orientation": ("横竖屏", "Orientation"),
    "take_id": ("考试视频", "Take"),
    "marks": ("评分", "Marks"),
    "mark_comment": ("评语", "Comment"),
    "uploads_allowed": ("允许上传本地视频", "Uploads allowed"),
    "upload_max_mb": ("上传视频大小上限（MB）", "Largest upload (MB)"),
    "prepare_s": ("准备时间（秒）", "Preparation (seconds)"),
    "prompt_device": ("在另一部手机上查看题目", "Question shown on a second phone"),
    "use": ("用途", "Pool"),
    "text": ("题目文字", "Question text"),
    "question_text": ("题目文字", "Question text"),
    "file": ("文件", "File"),
    "steps": ("步骤", "Steps"),
    "step_text": ("步骤文字", "Step text"),
    "step_duration": ("步骤时长（秒）", "Step length (seconds)"),
    "step_speak": ("朗读步骤文字", "Speak the step"),
}


def field_label(name: str, lang: str = "zh") -> str:
    zh, en = FIELD_LABELS.get(name, (name, name))
    return en if lang == "en" else zh


def message(code: str, lang: str = "zh", **params: Any) -> str:
    zh, en = MESSAGES.get(code, (code, code))
    if "label" in params:
        params["label"] = field_label(params["label"], lang)
    for name in [p for p in params if p.endswith("_code")]:  # a parameter that is itself a message
        params[name[:-5]] = message(params.pop(name), lang)
    template = en if lang == "en" else zh
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def human_size(n: int) -> str:
    """A byte count as people read it in a message: 512 KB, 5 MB, 1.5 MB."""
    if n >= 1024 * 1024:
        return f"{round(n / (1024 * 1024), 1):g} MB"
    return f"{max(1, round(n / 1024))} KB"


def pick_lang(cookie: str | None, accept_language: str | None, default: str = "zh") -> str:
    if cookie in LANGS:
        return cookie
    if accept_language:
        first = accept_language.split(",")[0].strip().lower()
        if first.startswith("en"):
            return "en"
        if first.startswith("zh"):
            return "zh"
    return default
