// The page logic of a recorded subject's form (docs/recorded.md "Forms"), loaded for the subject: a drawn question
// (命题作答, recorded-question.js) or guided items (指定项目, recorded-guided.js); a self-prepared performance has none.
// A form's mount(ctx) returns its hooks, each optional, which recorded.js calls:
//   startLabel                the start button's words          rule(subject)     a line for the take's rules
//   gesture()                 in the tap that starts a take      preparing(take)   a take still in its preparation
//   prepare(take)             resolves when recording starts     recording(take)   the camera joined: recording
//   ended()                   the take is over                   takeMax()         the take's longest length, if its own
//   auxQuery(subject)         what the aux QR code is for        aux(card, subject) the aux card's words
//   takeLine(take)            a line under a take in the list (the question it answered)
// ctx: {page, serverNow, countdown, stageTake, preview, status(text), reloadTake(id)}.
const FORMS = { question: "/static/js/recorded-question.js", guided: "/static/js/recorded-guided.js" };

export async function formFor(subject, ctx) {
  const path = FORMS[subject.form];
  return path ? { name: subject.form, ...(await import(path)).mount(ctx) } : { name: subject.form };
}
