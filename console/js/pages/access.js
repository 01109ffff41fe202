// Login and registration. Regulator and admin accounts come from the operators' CLI; verifiers and
// transit operators are accredited by an administrator (they create value), never registered here.
import { api, auth, login as logIn } from "../api.js";
import { t } from "../i18n.js";
import { card, field, form, h, input, select, submit } from "../ui.js";

const SELF_REGISTRABLE = ["citizen", "enterprise", "project_developer", "organizer"];

async function enter(username, password, go) {
  const me = await logIn(username, password);
  const { homeOf } = await import("../app.js");
  go(homeOf(me.role));
}

export function login(view, { go }) {
  view.append(card("login.title",
    form({ "data-form": "login" }, [
      field("login.username", "username", input("username", { autocomplete: "username", required: true })),
      field("login.password", "password", input("password", { type: "password", autocomplete: "current-password" })),
      submit("login.submit"),
      h("p", { class: "alt" }, t("login.no_account"), " ", h("a", { href: "#/register", text: t("login.register_link") })),
    ], (v) => enter(v.username.trim(), v.password, go))));
  // Transit operators are machine clients (OAuth2 client_credentials): their own sign-in form.
  view.append(card("operator.signin_title", h("p", { class: "hint", text: t("operator.signin_hint") }),
    form({ "data-form": "operator-login" }, [
      field("operator.client_id", "client_id", input("client_id", { autocomplete: "username" })),
      field("operator.client_secret", "client_secret", input("client_secret", { type: "password", autocomplete: "current-password" })),
      submit("login.submit"),
    ], async (v) => {
      const token = await api("/auth/token", { anonymous: true,
        form: { grant_type: "client_credentials", client_id: v.client_id.trim(), client_secret: v.client_secret } });
      auth.save(token.access_token, null);
      const me = await api("/me");
      auth.save(token.access_token, me);
      const { homeOf } = await import("../app.js");
      go(homeOf(me.role));
    })));
  view.append(card("login.public_title", h("p", { text: t("login.public_text") }),
    h("p", {}, h("a", { href: "#/registry", class: "button", text: t("nav.registry") }), " ",
      h("a", { href: "#/verify", class: "button", text: t("nav.verify") }))));
}

export function register(view, { go }) {
  view.append(card("register.title",
    form({ "data-form": "register" }, [
      field("login.username", "username", input("username", { autocomplete: "username" }), "register.username_hint"),
      field("login.password", "password", input("password", { type: "password", autocomplete: "new-password" }), "register.password_hint"),
      field("register.role", "role", select("role", SELF_REGISTRABLE.map((r) => [r, t(`role.${r}`)]))),
      submit("register.submit"),
      h("p", { class: "hint", text: t("register.operator_note") }),
    ], async (v) => {
      await api("/auth/register", { json: { username: v.username.trim(), password: v.password, role: v.role }, anonymous: true });
      await enter(v.username.trim(), v.password, go);
    })));
}
