// Device check before the queue (battery and device state checked; only a fit device may enter the queue).
//   inAppBrowser(ua) -> {id, name} | null       WeChat, QQ, Weibo, DingTalk, Alipay ... (no reliable camera)
//   browserInfo(ua)  -> {name, version, os, osVersion, mobile}
//   runDeviceCheck({stream, video}) -> {ok, items: [{id, label, status: ok|warn|fail, value, fix}], report, stream, error}
//     report: the facts for the server's rules (queue:join's `device`: camera, microphone, battery_level,
//     charging, browser, browser_version, os, in_app, network, user_agent)
//   renderDeviceCheck(listElement, result)
import { el, t } from "/static/js/common.js";
import { audioContext, cameraUnavailable, startCamera } from "/static/js/camera.js";

// App web views: they lack getUserMedia or behave differently (what-users-hit 7).
const IN_APP = [
  ["wecom", /wxwork/i, "企业微信", "WeCom"],
  ["wechat", /MicroMessenger/i, "微信", "WeChat"],
  ["qq", /\bQQ\/\d/i, "QQ", "QQ"],
  ["weibo", /Weibo/i, "微博", "Weibo"],
  ["dingtalk", /DingTalk/i, "钉钉", "DingTalk"],
  ["alipay", /AlipayClient/i, "支付宝", "Alipay"],
  ["feishu", /Lark\/|Feishu/i, "飞书", "Feishu"],
  ["douyin", /aweme|BytedanceWebview/i, "抖音", "Douyin"],
  ["xiaohongshu", /XiaoHongShu|xhsdiscover/i, "小红书", "Xiaohongshu"],
  ["baidu", /baiduboxapp/i, "百度 App", "Baidu app"],
  ["taobao", /AliApp\(TB/i, "淘宝", "Taobao"],
];

export function inAppBrowser(ua = navigator.userAgent) {
  for (const [id, re, zh, en] of IN_APP) if (re.test(ua)) return { id, name: t(zh, en) };
  return null;
}

const BROWSERS = [
  ["Edge", /Edg(?:A|iOS)?\/([\d.]+)/], ["Opera", /OPR\/([\d.]+)/], ["Samsung Internet", /SamsungBrowser\/([\d.]+)/],
  ["UC", /UCBrowser\/([\d.]+)/], ["QQ Browser", /M?QQBrowser\/([\d.]+)/], ["Quark", /Quark\/([\d.]+)/],
  ["Huawei Browser", /HuaweiBrowser\/([\d.]+)/], ["MIUI Browser", /MiuiBrowser\/([\d.]+)/],
  ["vivo Browser", /VivoBrowser\/([\d.]+)/], ["HeyTap Browser", /HeyTapBrowser\/([\d.]+)/],
  ["Firefox", /(?:Firefox|FxiOS)\/([\d.]+)/], ["Chrome", /CriOS\/([\d.]+)/], ["Chrome", /(?:Chrome|Chromium)\/([\d.]+)/],
  ["Safari", /Version\/([\d.]+).*Safari/],
];

export function browserInfo(ua = navigator.userAgent) {
  let name = t("未知浏览器", "Unknown browser");
  let version = "";
  for (const [n, re] of BROWSERS) {
    const m = ua.match(re);
    if (m) { name = n; version = m[1]; break; }
  }
  let os = "", osVersion = "";
  let m;
  if ((m = ua.match(/(?:iPhone|iPad|iPod).*? OS (\d+)[_.](\d+)/))) { os = "iOS"; osVersion = `${m[1]}.${m[2]}`; }
  else if (/HarmonyOS|OpenHarmony/i.test(ua)) { os = "HarmonyOS"; osVersion = (ua.match(/HarmonyOS[ /]?([\d.]+)/i) || [])[1] || ""; }
  else if ((m = ua.match(/Android ([\d.]+)/))) { os = "Android"; osVersion = m[1]; }
  else if (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1) os = "iPadOS";
  else if ((m = ua.match(/Windows NT ([\d.]+)/))) { os = "Windows"; osVersion = m[1]; }
  else if (/Mac OS X/.test(ua)) os = "macOS";
  else if (/Linux/.test(ua)) os = "Linux";
  const mobile = /Mobi|Android|iPhone|iPod|HarmonyOS/i.test(ua);
  return { name, version, os, osVersion, mobile };
}

const major = (v) => parseFloat(v) || 0;
const item = (id, label, status, value, fix = "") => ({ id, label, status, value, fix });

function browserItem() {
  const info = browserInfo();
  const label = t("浏览器", "Browser");
  const value = `${info.name} ${info.version}`.trim() + (info.os ? ` · ${info.os} ${info.osVersion}`.trimEnd() : "");
  const app = inAppBrowser();
  if (app) {
    return item("browser", label, "fail", t(`${app.name}内置浏览器`, `${app.name} in-app browser`),
      t(`请点击右上角“…”，选择“在浏览器中打开”，使用手机系统自带浏览器（iPhone 请用 Safari）参加考试`,
        `Tap "…" at the top right and choose "Open in browser": use the phone's own browser (Safari on iPhone)`));
  }
  const missing = cameraUnavailable() || (!window.RTCPeerConnection && { code: "no_webrtc" });
  if (missing && missing.code !== "insecure") {
    return item("browser", label, "fail", value, t("当前浏览器不支持视频面试，请使用手机系统自带浏览器或最新版 Chrome / Safari",
      "This browser cannot do video interviews; use the phone's own browser or a current Chrome / Safari"));
  }
  if (info.os === "iOS" && major(info.osVersion) < 14.3) {
    return item("browser", label, "warn", value, t("iOS 版本过低，可能无法使用摄像头，请升级系统", "This iOS version may not allow the camera; please update"));
  }
  if (info.name === "Chrome" && major(info.version) < 90) {
    return item("browser", label, "warn", value, t("浏览器版本过低，请升级到最新版", "This browser is old; please update it"));
  }
  if (!info.mobile) {
    return item("browser", label, "ok", value, t("建议使用手机参加考试，正式考试手机跟练习时的手机保持一致", "A phone is recommended; use the same phone for practice and the exam"));
  }
  return item("browser", label, "ok", value);
}

function secureItem() {
  const problem = cameraUnavailable();
  if (problem && problem.code === "insecure") return item("secure", t("安全连接", "Secure connection"), "fail", "HTTP", problem.advice);
  return item("secure", t("安全连接", "Secure connection"), "ok", location.protocol === "https:" ? "HTTPS" : t("本机地址", "local address"));
}

async function batteryItem(facts) {
  const label = t("电量", "Battery");
  if (!navigator.getBattery) {
    return item("battery", label, "warn", t("无法读取电量", "Cannot read the battery"),
      t("务必保持手机电量充足，建议连接充电器或移动电源", "Keep the phone well charged; connect a charger or power bank"));
  }
  try {
    const b = await navigator.getBattery();
    facts.battery_level = b.level;
    facts.charging = b.charging;
    const pct = Math.round(b.level * 100);
    const value = `${pct}%` + (b.charging ? t("（充电中）", " (charging)") : "");
    if (b.charging) return item("battery", label, "ok", value);
    if (pct < 20) return item("battery", label, "fail", value, t("电量不足，请立即充电", "Battery low: charge the phone now"));
    if (pct < 50) {
      return item("battery", label, "warn", value, t("务必保持手机电量充足，确保在考试过程中不会出现因为手机电量过低自动关机，建议连接充电器",
        "Keep the phone charged so it does not shut down during the exam; connect a charger"));
    }
    return item("battery", label, "ok", value);
  } catch {
    return item("battery", label, "warn", t("无法读取电量", "Cannot read the battery"),
      t("务必保持手机电量充足", "Keep the phone well charged"));
  }
}

// Round trip to this server (3 tries, the median), plus what the browser says about the link.
async function networkItem(facts) {
  const label = t("网络", "Network");
  const fix = t("建议使用稳定的 Wi-Fi 或 4G/5G 网络；如果遇到网络异常，可以尝试切换 Wi-Fi 和 4G 网络",
    "Use a stable Wi-Fi or 4G/5G network; if it misbehaves, try switching between Wi-Fi and 4G");
  if (!navigator.onLine) return item("network", label, "fail", t("未连接网络", "Offline"), fix);
  const conn = navigator.connection || {};
  const kind = conn.type && conn.type !== "unknown" ? { wifi: "Wi-Fi", cellular: t("移动网络", "mobile"), ethernet: t("有线", "wired") }[conn.type] || conn.type : "";
  const times = [];
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    try {
      const res = await fetch("/healthz?probe=" + Date.now(), { cache: "no-store", credentials: "omit" });
      await res.arrayBuffer();
      times.push(performance.now() - start);
    } catch {
      /* counted as missing */
    }
  }
  if (!times.length) return item("network", label, "fail", t("无法连接考试服务器", "Cannot reach the exam server"), fix);
  times.sort((a, b) => a - b);
  const rtt = Math.round(times[Math.floor(times.length / 2)]);
  // effectiveType is a speed class ("4g" on any fast link, wired desktops too), not the kind of network:
  // name it only for a mobile connection
  const cellular = conn.type === "cellular" && conn.effectiveType ? conn.effectiveType.toUpperCase() : "";
  const value = [kind, cellular, t(`延迟 ${rtt} 毫秒`, `latency ${rtt} ms`)].filter(Boolean).join(" · ");
  facts.network = [conn.type, conn.effectiveType, `${rtt}ms`].filter(Boolean).join(" ");
  if (conn.effectiveType === "slow-2g" || conn.effectiveType === "2g" || rtt > 1000) return item("network", label, "fail", value, fix);
  if (conn.effectiveType === "3g" || rtt > 400 || conn.saveData) return item("network", label, "warn", value, fix);
  return item("network", label, "ok", value);
}

function cameraItem(stream, error) {
  const label = t("摄像头", "Camera");
  if (error) return item("camera", label, "fail", error.message, error.advice);
  const track = stream && stream.getVideoTracks()[0];
  if (!track || track.readyState !== "live") {
    return item("camera", label, "fail", t("没有画面", "No picture"), t("请关闭其他使用摄像头的程序后刷新页面重试", "Close other apps using the camera and reload"));
  }
  const s = track.getSettings ? track.getSettings() : {};
  return item("camera", label, "ok", t("已授权", "Allowed") + (s.width ? ` · ${s.width}×${s.height}` : ""));
}

// Listen for ~1.5 s: a microphone that hears nothing is probably covered or muted.
async function micItem(stream, error) {
  const label = t("麦克风", "Microphone");
  if (error) return item("mic", label, "fail", error.message, error.advice);
  const track = stream && stream.getAudioTracks()[0];
  if (!track || track.readyState !== "live") {
    return item("mic", label, "fail", t("无法使用", "Not available"), t("请允许本网站使用麦克风", "Allow this site to use the microphone"));
  }
  let peak = 0;
  const ctx = audioContext();
  if (ctx) {
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    const source = ctx.createMediaStreamSource(stream);
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    for (let i = 0; i < 15; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatTimeDomainData(buf);
      for (const v of buf) peak = Math.max(peak, Math.abs(v));
    }
    source.disconnect();
  }
  if (ctx && ctx.state === "running" && peak < 0.002) {
    return item("mic", label, "warn", t("已授权，未检测到声音", "Allowed, no sound heard"),
      t("请对着手机说话，注意不要遮挡手机话筒；苹果手机不得使用静音模式", "Speak towards the phone and keep the microphone uncovered; turn off silent mode on iPhone"));
  }
  return item("mic", label, "ok", t("已授权", "Allowed"));
}

// Ask for camera + microphone (unless a stream is given) and check everything the exam needs.
// Call it from a tap: the permission prompt and audio measurement need a user gesture on phones.
export async function runDeviceCheck({ stream = null, video = null } = {}) {
  audioContext(); // while the tap's gesture is still fresh
  let error = null;
  if (!stream && !inAppBrowser()) {
    try {
      stream = await startCamera(video);
    } catch (err) {
      error = err;
    }
  } else if (!stream) {
    error = { code: "in_app", message: t("内置浏览器无法使用摄像头", "The in-app browser cannot use the camera"),
      advice: t("请在手机系统自带浏览器中打开本页面", "Open this page in the phone's own browser") };
  }
  const info = browserInfo();
  const app = inAppBrowser();
  const facts = { battery_level: null, charging: null, network: navigator.onLine ? "" : "offline" };
  const items = [secureItem(), browserItem(), cameraItem(stream, error), await micItem(stream, error),
    await batteryItem(facts), await networkItem(facts)];
  const permission = (kind) => {
    const track = stream && (kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks())[0];
    if (track && track.readyState === "live") return "granted";
    return error && error.code === "denied" ? "denied" : "unavailable";
  };
  const report = {
    camera: permission("video"), microphone: permission("audio"), ...facts,
    browser: info.name, browser_version: info.version, os: `${info.os} ${info.osVersion}`.trim(),
    in_app: app ? app.name : null, user_agent: navigator.userAgent.slice(0, 300),
  };
  return { ok: items.every((i) => i.status !== "fail"), items, report, stream, error };
}

const MARK = { ok: "✓", warn: "!", fail: "✕" };
const STATUS = { ok: () => t("正常", "OK"), warn: () => t("注意", "Check"), fail: () => t("不通过", "Problem") };

export function renderDeviceCheck(list, result) {
  list.replaceChildren(...result.items.map((i) => el("li", { class: "check-item", "data-item": i.id, "data-status": i.status },
    el("span", { class: "mark", "aria-label": STATUS[i.status]() }, MARK[i.status]),
    el("div", { class: "what" },
      el("div", {}, el("strong", {}, i.label), " ", el("span", { class: "value" }, i.value)),
      i.fix ? el("div", { class: "fix" }, i.fix) : ""))));
}
