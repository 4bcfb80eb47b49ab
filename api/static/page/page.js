/* The try-it page: score a posting through the public API and show the result.
 *
 * Everything the API returns is written into the page as text (textContent, never as HTML):
 * a description may be HTML, and the page shows its source with duties highlighted in place.
 * Fields that other parts of the API add over time (skills, occupations, automation, language,
 * needs_review) are each drawn when present and skipped when absent.
 */
(function () {
  "use strict";

  const LABELS = ["E0", "E1", "E2"];
  const LABEL_NAMES = {
    E0: "no exposure",
    E1: "an LLM alone halves the time",
    E2: "halved with LLM-based software",
  };
  const BAND_NAMES = { low: "Low", moderate: "Moderate", high: "High" };
  const FIELD_NAMES = { title: "Job title", description: "Description", language: "Language", id: "Id" };
  // Offered when the API's Posting schema has a `language` field without listing its values.
  const DEFAULT_LANGUAGES = ["en", "ja", "fa"];
  const RTL_LANGUAGES = new Set(["ar", "fa", "he", "iw", "ps", "ur", "yi", "dv", "ckb", "sd"]);
  const BLEND_NAMES = { duties: "the duties' score", occupation: "the occupation's published beta" };
  const LENS_NAMES = {
    eloundou_human_beta: "beta, rated by people",
    eloundou_gpt4_beta: "beta, rated by GPT-4",
  };
  const SPLIT_NAMES = {
    automation: "automation (AI would do the work)",
    augmentation: "augmentation (AI would help a person)",
    not_exposed: "not exposed",
  };
  const SPLIT_CLASSES = { automation: "split-0", augmentation: "split-1", not_exposed: "split-none" };
  const BASIS_NOTES = {
    text: "No duties were found, so the other sentences of the description and the title were " +
      "scored instead.",
    title: "Nothing in the description could be scored, so the score comes from the title alone.",
  };

  const body = document.body;
  const urls = {
    score: body.dataset.scoreUrl,
    model: body.dataset.modelUrl,
    examples: body.dataset.examplesUrl,
    openapi: body.dataset.openapiUrl,
  };
  const byId = (id) => document.getElementById(id);
  const form = byId("posting-form");
  const titleInput = byId("title");
  const descriptionInput = byId("description");
  const languageField = byId("language-field");
  const languageSelect = byId("language");
  const scoreButton = byId("score");
  const statusLine = byId("status");
  const errorBox = byId("error");
  const resultSection = byId("result");
  const postingBox = byId("posting");

  const state = {
    thresholds: null,
    request: 0,
    busy: false,
    example: null, // the example last loaded into the form, for its language
    evidence: new Map(), // evidence group (a skill's index, or "policy") -> its pieces of text
    pinned: new Set(), // groups whose evidence stays highlighted
    hovered: null, // group whose button is under the pointer
    focused: null, // group whose button has keyboard focus
  };

  /** Create an element with attributes and children (strings become text nodes). */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
  const fixed = (value, digits = 2) => (isNumber(value) ? value.toFixed(digits) : "–");
  const percent = (value) => (isNumber(value) ? `${Math.round(value * 100)}%` : "–");
  const humanize = (name) => String(name).replace(/[_-]+/g, " ");

  /** Name a language code in English ("ja" -> "Japanese"), falling back to the code. */
  function languageName(code) {
    try {
      return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code;
    } catch (error) {
      return code;
    }
  }

  // --- the form -----------------------------------------------------------------------------

  async function loadExamples() {
    const box = byId("examples");
    try {
      const response = await fetch(urls.examples, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const examples = await response.json();
      for (const example of examples) {
        const button = el("button", { type: "button", "data-example": example.id }, example.label);
        button.addEventListener("click", () => useExample(example));
        box.append(button);
      }
    } catch (error) {
      box.append(el("p", { class: "hint" }, `The examples could not be loaded (${error.message}).`));
    }
  }

  function useExample(example) {
    titleInput.value = example.title;
    descriptionInput.value = example.description;
    state.example = example;
    for (const input of [titleInput, descriptionInput]) input.lang = example.language || "";
    languageSelect.value = "";
    clearErrors();
    statusLine.textContent = `Loaded the example “${example.label}”. Press Score.`;
  }

  async function loadModel() {
    const line = byId("model-version");
    try {
      const response = await fetch(urls.model, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const card = await response.json();
      line.textContent = `Model ${card.version}`;
      const bands = card.bands;
      if (isObject(bands) && isNumber(bands.moderate) && isNumber(bands.high)) {
        state.thresholds = { moderate: bands.moderate, high: bands.high };
      }
    } catch (error) {
      line.textContent = `Model: unknown (${error.message})`;
    }
  }

  /** Offer a language choice if the API's Posting schema has a `language` field. */
  async function loadLanguages() {
    try {
      const response = await fetch(urls.openapi, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const spec = await response.json();
      const schemas = spec && spec.components && spec.components.schemas;
      offerLanguages(schemas && schemas.Posting && schemas.Posting.properties
        ? schemas.Posting.properties.language : undefined);
    } catch (error) {
      // Without the document the page sends no language, which every version accepts.
    }
  }

  function offerLanguages(property) {
    if (!isObject(property)) return;
    const listed = Array.isArray(property.enum) ? property.enum.filter((code) => typeof code === "string") : [];
    const codes = listed.length ? listed : DEFAULT_LANGUAGES;
    languageSelect.replaceChildren(
      el("option", { value: "" }, "Detect automatically"),
      ...codes.map((code) => el("option", { value: code }, `${languageName(code)} (${code})`)),
    );
    languageField.hidden = false;
  }

  async function submit(event) {
    event.preventDefault();
    if (state.busy) return;
    const posting = { title: titleInput.value, description: descriptionInput.value };
    if (!languageField.hidden && languageSelect.value) posting.language = languageSelect.value;
    const request = ++state.request;
    setBusy(true);
    clearErrors();
    statusLine.textContent = "Scoring…";
    try {
      let response;
      try {
        response = await fetch(urls.score, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(posting),
        });
      } catch (error) {
        throw new PageError("The API could not be reached.", [error.message]);
      }
      const payload = await readJSON(response);
      if (request !== state.request) return;
      if (!response.ok) throw problemError(response, payload);
      if (!isObject(payload) || !isObject(payload.exposure)) {
        throw new PageError("The API answered with something that is not a result.", []);
      }
      render(payload, posting);
    } catch (error) {
      if (request !== state.request) return;
      showError(error);
    } finally {
      if (request === state.request) setBusy(false);
    }
  }

  async function readJSON(response) {
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch (error) {
      return { unreadable: text.slice(0, 300) };
    }
  }

  class PageError extends Error {
    constructor(message, details, fields) {
      super(message);
      this.details = details || [];
      this.fields = fields || {};
    }
  }

  /** Turn an RFC 9457 problem (or any error response) into a message and per-field messages. */
  function problemError(response, problem) {
    const status = `${response.status} ${problem.title || response.statusText || ""}`.trim();
    if (problem.unreadable !== undefined) {
      return new PageError(`The API answered ${status}.`, problem.unreadable ? [problem.unreadable] : []);
    }
    const details = [];
    const fields = {};
    for (const [path, messages] of flattenErrors(problem.errors)) {
      const field = path[0];
      const name = FIELD_NAMES[field] || path.map(humanize).join(" › ");
      for (const message of messages) {
        details.push(`${name}: ${message}`);
        if (field in FIELD_NAMES && path.length === 1) (fields[field] ||= []).push(message);
      }
    }
    return new PageError(`${status}: ${problem.detail || "the request failed."}`, details, fields);
  }

  /** Yield [path, messages] for marshmallow's nested field messages. */
  function* flattenErrors(errors, path = []) {
    if (Array.isArray(errors)) {
      yield [path, errors.map(String)];
    } else if (isObject(errors)) {
      for (const [key, value] of Object.entries(errors)) yield* flattenErrors(value, [...path, key]);
    } else if (errors !== undefined && errors !== null) {
      yield [path, [String(errors)]];
    }
  }

  function showError(error) {
    const details = error instanceof PageError ? error.details : [String(error)];
    const message = error instanceof PageError ? error.message : "Something went wrong on this page.";
    errorBox.replaceChildren(el("p", {}, el("strong", {}, message)));
    if (details.length) errorBox.append(el("ul", {}, ...details.map((d) => el("li", {}, d))));
    errorBox.hidden = false;
    statusLine.textContent = "Not scored.";
    const fields = error instanceof PageError ? error.fields : {};
    for (const [field, messages] of Object.entries(fields)) {
      const input = byId(field);
      const box = byId(`${field}-error`);
      if (!input || !box) continue;
      input.setAttribute("aria-invalid", "true");
      box.textContent = messages.join(" ");
      box.hidden = false;
    }
  }

  function clearErrors() {
    errorBox.hidden = true;
    errorBox.replaceChildren();
    for (const field of ["title", "description", "language"]) {
      byId(field).removeAttribute("aria-invalid");
      const box = byId(`${field}-error`);
      box.hidden = true;
      box.textContent = "";
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    // aria-disabled rather than disabled: a disabled button would drop keyboard focus.
    scoreButton.setAttribute("aria-disabled", String(busy));
    resultSection.setAttribute("aria-busy", String(busy));
  }

  // --- the result ---------------------------------------------------------------------------

  /** Draw one result of POST /v1/score for the posting that was sent. */
  function render(result, posting) {
    const description = String(posting.description);
    const duties = Array.isArray(result.duties) ? result.duties : [];
    const skills = Array.isArray(result.skills) ? result.skills : [];
    const policy = isObject(result.ai_policy) ? result.ai_policy : null;
    const exposure = result.exposure;

    const language = typeof result.language === "string" ? result.language
      : posting.language || exampleLanguage(posting);
    const direction = language ? (RTL_LANGUAGES.has(language.split("-")[0]) ? "rtl" : "ltr") : "auto";
    for (const node of [postingBox, byId("posting-title")]) {
      node.dir = direction;
      node.lang = language || "";
    }
    byId("posting-title").textContent = posting.title;
    // Evidence groups that a button can highlight: each skill by its index, and the AI policy.
    const groups = skills.map((skill, index) => ({ key: String(index), evidence: skill.evidence }));
    if (policy) groups.push({ key: "policy", evidence: policy.evidence });
    renderPosting(description, duties, groups);
    renderDutyTable(duties, direction, language);
    renderNotes(result);
    renderGauge(exposure);
    renderShares(exposure);
    renderReview(result.needs_review);
    renderPolicy(policy);
    renderSkills(skills);
    renderOccupations(result.occupations, result.lenses);
    renderAutomation(result);
    const model = isObject(result.model) ? result.model : {};
    byId("result-model").textContent = [model.version, model.sha256].filter(Boolean).join(" · ") || "–";
    byId("raw").textContent = JSON.stringify(result, null, 2);

    const firstResult = resultSection.hidden;
    resultSection.hidden = false;
    resultSection.dataset.renders = String(Number(resultSection.dataset.renders || 0) + 1);
    // The first result of a visit may land below the fold (always, on a phone): bring it up.
    // Focus stays on the Score button.
    if (firstResult && resultSection.getBoundingClientRect().top > window.innerHeight * 0.6) {
      resultSection.scrollIntoView({ block: "start" });
    }
    const dutyCount = duties.length === 1 ? "1 duty" : `${duties.length} duties`;
    statusLine.textContent =
      `Scored: ${fixed(exposure.score)}, ${bandName(exposure.band).toLowerCase()} exposure; ` +
      `${dutyCount} found.`;
  }

  function exampleLanguage(posting) {
    const example = state.example;
    if (example && example.title === posting.title && example.description === posting.description) {
      return example.language || null;
    }
    return null;
  }

  const bandName = (band) => BAND_NAMES[band] || humanize(band || "unknown");

  /** Return the UTF-16 index of every code point boundary: the API counts code points. */
  function codeUnitOffsets(text) {
    const offsets = [0];
    let units = 0;
    for (const character of text) {
      units += character.length;
      offsets.push(units);
    }
    return offsets;
  }

  /**
   * Write the description as text, each duty wrapped with its label and every stretch outside
   * the duties dimmed. Evidence may cross duty boundaries, so the text is cut at every duty and
   * evidence offset and each piece is placed in its duty (or in dimmed text).
   */
  function renderPosting(description, duties, groups) {
    const offsets = codeUnitOffsets(description);
    const length = offsets.length - 1;
    const clamp = (value) => Math.min(Math.max(Math.trunc(Number(value)) || 0, 0), length);
    const dutyRanges = duties
      .map((duty, index) => ({ start: clamp(duty.start), end: clamp(duty.end), index }))
      .filter((range) => range.end > range.start);
    const evidenceRanges = [];
    for (const group of groups) {
      (Array.isArray(group.evidence) ? group.evidence : []).forEach((evidence, index) => {
        if (!isObject(evidence)) return;
        const range = {
          start: clamp(evidence.start),
          end: clamp(evidence.end),
          group: group.key,
          key: `${group.key}.${index}`,
        };
        if (range.end > range.start) evidenceRanges.push(range);
      });
    }
    const cuts = new Set([0, length]);
    for (const range of [...dutyRanges, ...evidenceRanges]) cuts.add(range.start).add(range.end);
    const points = [...cuts].sort((a, b) => a - b);

    state.evidence = new Map();
    state.pinned = new Set();
    state.hovered = state.focused = null;
    postingBox.replaceChildren();
    let group = null; // the element receiving pieces: a duty's text or a dimmed run
    let groupDuty = null;
    for (let k = 0; k + 1 < points.length; k++) {
      const [start, end] = [points[k], points[k + 1]];
      const text = description.slice(offsets[start], offsets[end]);
      const duty = dutyRanges.find((range) => range.start <= start && end <= range.end);
      const dutyIndex = duty ? duty.index : null;
      if (group === null || dutyIndex !== groupDuty) {
        group = dutyIndex === null ? newDimmedRun() : newDuty(duties[dutyIndex], dutyIndex);
        groupDuty = dutyIndex;
      }
      const covering = evidenceRanges.filter((range) => range.start <= start && end <= range.end);
      if (covering.length === 0) {
        group.append(text);
        continue;
      }
      const piece = el("span", {
        class: "evidence",
        "data-evidence": covering.map((range) => range.key).join(" "),
      }, text);
      for (const range of covering) {
        if (!state.evidence.has(range.group)) state.evidence.set(range.group, []);
        state.evidence.get(range.group).push(piece);
      }
      group.append(piece);
    }
  }

  function newDimmedRun() {
    const run = el("span", { class: "nonduty" });
    postingBox.append(run);
    return run;
  }

  function newDuty(duty, index) {
    const label = LABELS.includes(duty.label) ? duty.label : String(duty.label || "?");
    const text = el("span", { class: "duty-text" });
    const wrapper = el("span", {
      class: `duty duty-${label.toLowerCase()}`,
      "data-duty": index,
      "data-label": label,
      "data-start": duty.start,
      "data-end": duty.end,
      title: dutyTooltip(duty),
    }, el("span", { class: "duty-badge" }, label), text);
    postingBox.append(wrapper);
    return text;
  }

  function dutyTooltip(duty) {
    const lines = [`${duty.label}: ${LABEL_NAMES[duty.label] || "unknown label"}`];
    if (isObject(duty.probabilities)) {
      lines.push(LABELS.map((label) => `${label} ${percent(duty.probabilities[label])}`).join(" · "));
    }
    for (const [name, value] of Object.entries(dutyExtras(duty))) {
      lines.push(`${humanize(name)}: ${describeDutyField(value)}`);
    }
    return lines.join("\n");
  }

  /** Return the fields of a duty beyond the ones every result has (e.g. its mode). */
  function dutyExtras(duty) {
    const known = new Set(["text", "start", "end", "label", "probabilities"]);
    return Object.fromEntries(Object.entries(duty).filter(([name]) => !known.has(name)));
  }

  /** Describe a duty's extra field; a mode {label, automation, augmentation} by its label. */
  function describeDutyField(value) {
    if (isObject(value) && typeof value.label === "string" && isNumber(value[value.label])) {
      return `${value.label} ${percent(value[value.label])}`;
    }
    return describe(value);
  }

  function describe(value) {
    if (isNumber(value)) return value >= 0 && value <= 1 ? fixed(value) : String(value);
    if (isObject(value)) {
      if (typeof value.detail === "string") return value.detail;
      return Object.entries(value).map(([name, item]) => `${humanize(name)} ${describe(item)}`).join(", ");
    }
    if (Array.isArray(value)) return value.map(describe).join(", ");
    return String(value);
  }

  function renderDutyTable(duties, direction, language) {
    const details = byId("duty-details");
    details.hidden = duties.length === 0;
    const extraNames = [...new Set(duties.flatMap((duty) => Object.keys(dutyExtras(duty))))];
    const head = details.querySelector("thead tr");
    head.replaceChildren(
      el("th", { scope: "col" }, "duty"),
      el("th", { scope: "col" }, "label"),
      ...LABELS.map((label) => el("th", { scope: "col", class: "num" }, `P(${label})`)),
      ...extraNames.map((name) => el("th", { scope: "col" }, humanize(name))),
    );
    const rows = duties.map((duty) => el("tr", {},
      el("td", { dir: direction, lang: language || null }, String(duty.text)),
      el("td", {}, el("span", { class: `tag tag-${String(duty.label).toLowerCase()}` }, String(duty.label))),
      ...LABELS.map((label) => el("td", { class: "num" },
        fixed(isObject(duty.probabilities) ? duty.probabilities[label] : null))),
      ...extraNames.map((name) => el("td", {}, name in duty ? describeDutyField(duty[name]) : "")),
    ));
    details.querySelector("tbody").replaceChildren(...rows);
    details.querySelector("summary").textContent = `Duties as a table (${duties.length})`;
  }

  function renderNotes(result) {
    const basis = byId("basis-note");
    const note = BASIS_NOTES[result.exposure.basis];
    basis.textContent = note || "";
    basis.hidden = !note;

    const languageNote = byId("language-note");
    const supported = result.language_supported;
    if (typeof result.language === "string") {
      const name = languageName(result.language);
      languageNote.textContent = supported === false
        ? `Language: ${name}. The model is not trained on ${name} postings, so treat these labels with care.`
        : `Language: ${name}.`;
      languageNote.hidden = false;
    } else {
      languageNote.hidden = true;
    }
    languageNote.classList.toggle("note", supported === false);
    languageNote.classList.toggle("hint", supported !== false);
  }

  /** Return an SVG arc path on the gauge from score a to score b (0 left, 1 right). */
  function arc(a, b, radius = 80) {
    const point = (t) => {
      const angle = Math.PI * (1 - t);
      return `${(100 + radius * Math.cos(angle)).toFixed(2)} ${(100 - radius * Math.sin(angle)).toFixed(2)}`;
    };
    return `M ${point(a)} A ${radius} ${radius} 0 0 1 ${point(b)}`;
  }

  function renderGauge(exposure) {
    const score = Math.min(Math.max(Number(exposure.score) || 0, 0), 1);
    const thresholds = state.thresholds;
    const bands = {
      low: thresholds ? [0, thresholds.moderate] : null,
      moderate: thresholds ? [thresholds.moderate, thresholds.high] : null,
      high: thresholds ? [thresholds.high, 1] : null,
      all: thresholds ? null : [0, 1],
    };
    for (const [name, range] of Object.entries(bands)) {
      byId(`gauge-${name}`).setAttribute("d", range ? arc(range[0], range[1]) : "");
    }
    byId("gauge-needle").style.transform = `rotate(${(score * 180 - 90).toFixed(1)}deg)`;
    const band = bandName(exposure.band);
    byId("gauge").setAttribute(
      "aria-label",
      `Gauge: score ${fixed(exposure.score)} on a scale from 0 to 1, in the ${band.toLowerCase()} band.`,
    );
    byId("score-value").textContent = fixed(exposure.score);
    const bandLabel = byId("band");
    bandLabel.textContent = `${band} exposure`;
    bandLabel.dataset.band = exposure.band;
    byId("band-scale").textContent = thresholds
      ? `Low below ${fixed(thresholds.moderate)}, moderate below ${fixed(thresholds.high)}, high from there up.`
      : "";
    const blend = isObject(exposure.blend) ? exposure.blend : null;
    const blendLine = byId("blend");
    blendLine.hidden = !blend;
    blendLine.textContent = blend
      ? "The score blends " + Object.entries(blend).map(([name, part]) => isObject(part)
        ? `${BLEND_NAMES[name] || humanize(name)} ${fixed(part.score)} (weight ${fixed(part.weight)})`
        : `${humanize(name)} ${describe(part)}`).join(" and ") + "."
      : "";
    byId("confidence").textContent = fixed(exposure.confidence);
  }

  function renderShares(exposure) {
    for (const name of ["alpha", "beta", "gamma"]) {
      const value = exposure[name];
      byId(name).textContent = fixed(value);
      byId(`${name}-bar`).style.width = percent(Math.min(Math.max(Number(value) || 0, 0), 1));
    }
  }

  function renderReview(review) {
    const section = byId("review-section");
    const flagged = isObject(review) ? Boolean(review.flag) : review === true;
    section.hidden = !flagged;
    const reasons = isObject(review) && Array.isArray(review.reasons) ? review.reasons : [];
    byId("review-reasons").replaceChildren(
      ...(reasons.length ? reasons : ["The API flagged this posting for review."]).map(
        (reason) => el("li", {}, describe(reason)),
      ),
    );
  }

  function renderPolicy(policy) {
    const section = byId("policy-section");
    const prohibited = Boolean(policy && policy.prohibited);
    section.hidden = !prohibited;
    const box = byId("policy-evidence");
    box.replaceChildren();
    if (!prohibited) return;
    const count = (state.evidence.get("policy") || []).length;
    if (count) {
      box.append(highlightButton("policy", [el("span", {}, "Show where the posting says so")],
        "Show where the posting prohibits AI"));
    }
  }

  function renderSkills(skills) {
    const section = byId("skills-section");
    section.hidden = skills.length === 0;
    const list = byId("skills");
    list.replaceChildren();
    skills.forEach((skill, index) => {
      const key = String(index);
      const meta = [skill.source, isNumber(skill.score) ? fixed(skill.score) : null]
        .filter(Boolean).join(" · ");
      const name = String(skill.name ?? skill.id ?? "skill");
      const content = [
        el("span", { class: "skill-name" }, name),
        meta ? el("span", { class: "skill-meta" }, meta) : null,
      ];
      if (!state.evidence.has(key)) {
        list.append(el("li", {}, el("span", { class: "skill", "data-highlight": key }, ...content)));
        return;
      }
      list.append(el("li", {}, highlightButton(key, content, `${name}${meta ? `, ${meta}` : ""}`)));
    });
  }

  /** Return a button that highlights a group's evidence while hovered or focused, or pinned. */
  function highlightButton(key, content, name) {
    const pieces = state.evidence.get(key) || [];
    const count = pieces.length === 1 ? "1 piece of evidence" : `${pieces.length} pieces of evidence`;
    const button = el("button", {
      type: "button",
      class: key === "policy" ? "highlight" : "skill",
      "data-highlight": key,
      "aria-pressed": "false",
      "aria-label": `${name}: highlight ${count} in the posting`,
    }, ...content);
    const follow = (slot, on) => () => {
      if (on) state[slot] = key;
      else if (state[slot] === key) state[slot] = null;
      lightEvidence();
    };
    button.addEventListener("mouseenter", follow("hovered", true));
    button.addEventListener("mouseleave", follow("hovered", false));
    button.addEventListener("focus", follow("focused", true));
    button.addEventListener("blur", follow("focused", false));
    button.addEventListener("click", () => {
      const pinned = !state.pinned.has(key);
      if (pinned) state.pinned.add(key); else state.pinned.delete(key);
      button.setAttribute("aria-pressed", String(pinned));
      lightEvidence();
      if (pinned) revealEvidence(key);
    });
    return button;
  }

  function lightEvidence() {
    const lit = new Set(state.pinned);
    for (const key of [state.hovered, state.focused]) if (key !== null) lit.add(key);
    for (const pieces of state.evidence.values()) for (const piece of pieces) piece.classList.remove("lit");
    for (const key of lit) for (const piece of state.evidence.get(key) || []) piece.classList.add("lit");
    for (const button of document.querySelectorAll("button[data-highlight]")) {
      button.classList.toggle("lit", lit.has(button.dataset.highlight));
    }
  }

  function revealEvidence(key) {
    const first = (state.evidence.get(key) || [])[0];
    if (!first) return;
    const box = first.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) first.scrollIntoView({ block: "center" });
  }

  function renderOccupations(occupations, lenses) {
    const section = byId("occupations-section");
    const list = Array.isArray(occupations) ? occupations : [];
    const lensRows = lensEntries(lenses);
    section.hidden = list.length === 0 && lensRows.length === 0;
    byId("occupations").replaceChildren(...list.map((occupation) => el("li", {},
      el("span", { class: "prob" }, percent(occupation.probability)),
      String(occupation.title ?? ""),
      " ",
      el("span", { class: "code" }, String(occupation.code ?? "")),
    )));
    const lensBox = byId("lenses");
    lensBox.hidden = lensRows.length === 0;
    const top = list[0];
    byId("lenses-heading").textContent = top && top.title
      ? `Published exposure of ${top.title}`
      : "Published exposure of the top occupation";
    byId("lenses-table").querySelector("tbody").replaceChildren(...lensRows.map(([name, value, source]) =>
      el("tr", {}, el("td", {}, name), el("td", { class: "num" }, value), el("td", {}, source))));
  }

  /** Return [measure, value, source] rows from a list or a mapping of published measures. */
  function lensEntries(lenses) {
    const row = (name, item) => {
      if (!isObject(item)) return [humanize(name), describe(item), ""];
      const valueKey = ["value", "beta", "score", "exposure"].find((key) => isNumber(item[key]));
      const label = item.label ?? item.measure ?? item.name ?? item.lens ?? name;
      const measure = /^[\w-]+$/.test(label) ? (LENS_NAMES[label] || humanize(label)) : String(label);
      const source = [item.source ?? item.citation ?? "", item.version ? `version ${item.version}` : ""]
        .filter(Boolean).join("; ");
      return [measure, valueKey ? fixed(item[valueKey]) : "–", source];
    };
    if (Array.isArray(lenses)) return lenses.map((item, index) => row(`measure ${index + 1}`, item));
    if (isObject(lenses)) return Object.entries(lenses).map(([name, item]) => row(name, item));
    return [];
  }

  /**
   * Draw the posting-level automation/augmentation split: the first field of the result whose
   * name mentions automation or augmentation and that holds shares (numbers from 0 to 1). The
   * shares may cover only the exposed work; what they leave is drawn as not exposed.
   */
  function renderAutomation(result) {
    const section = byId("automation-section");
    let shares = null;
    for (const [name, value] of Object.entries(result)) {
      if (!/automat|augment/i.test(name)) continue;
      if (isObject(value)) {
        const numeric = Object.entries(value).filter(([, share]) => isNumber(share) && share >= 0 && share <= 1);
        if (numeric.length) { shares = numeric; break; }
      } else if (isNumber(value) && value >= 0 && value <= 1) {
        (shares ||= []).push([name, value]);
      }
    }
    section.hidden = !shares;
    const bar = byId("automation-bar");
    const legend = byId("automation");
    bar.replaceChildren();
    legend.replaceChildren();
    if (!shares) return;
    // Automation, then augmentation, then any other share (indexOf -1 becomes the largest).
    const order = (name) => ["automation", "augmentation"].indexOf(name.replace(/_share$/, "")) >>> 0;
    shares.sort((a, b) => order(a[0]) - order(b[0]));
    const total = shares.reduce((sum, [, share]) => sum + share, 0);
    if (total < 0.995) shares.push(["not_exposed", 1 - total]);
    shares.forEach(([name, share], index) => {
      const key = name.replace(/_share$/, "");
      const colour = SPLIT_CLASSES[key] || `split-${index % 4}`;
      const segment = el("span", { class: colour });
      segment.style.width = percent(share);
      bar.append(segment);
      legend.append(el("li", {}, el("span", { class: `swatch ${colour}` }),
        `${SPLIT_NAMES[key] || humanize(key)}: ${percent(share)}`));
    });
  }

  // --- start --------------------------------------------------------------------------------

  form.addEventListener("submit", submit);
  descriptionInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  for (const input of [titleInput, descriptionInput]) {
    input.addEventListener("input", () => {
      if (state.example && input.value !== state.example[input.id]) {
        titleInput.lang = descriptionInput.lang = "";
      }
    });
  }
  loadExamples();
  loadModel();
  loadLanguages();
  // For the browser test and for anyone checking a response by hand in the console.
  window.exposurePage = { render, offerLanguages };
})();
