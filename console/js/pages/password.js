// Any signed-in user changes their password: the current one, then a new one the platform's
// policy accepts (at least 10 characters, not common, not the username).
import { api } from "../api.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, localError, replace, submit } from "../ui.js";

export function render(view) {
  const done = h("div", { class: "result", "data-result": "password" });
  view.append(h("h1", { text: t("password.title") }), done, card(null,
    form({ "data-form": "password" }, [
      field("password.current", "current_password", input("current_password", { type: "password", autocomplete: "current-password" })),
      field("password.new", "new_password", input("new_password", { type: "password", autocomplete: "new-password" }), "register.password_hint"),
      field("password.repeat", "repeat", input("repeat", { type: "password", autocomplete: "new-password" })),
      submit("password.submit"),
    ], async (v, el) => {
      replace(done);
      if (v.new_password !== v.repeat) return localError(el, "repeat", t("password.mismatch"));
      await api("/me/password", { json: { current_password: v.current_password, new_password: v.new_password } });
      el.reset();
      return replace(done, h("p", { class: "ok", text: t("password.changed") }));
    })));
}
