"""Personal API tokens and bearer authentication."""

import hashlib

import sqlalchemy as sa

from rollcal.accounts.models import ApiToken, Role


def test_token_is_shown_once_and_stored_only_as_its_hash(client, auth, db, create_user):
    user = auth.login(create_user(Role.QA_LEAD))
    page = client.post("/account/tokens", data={"name": "labelling script"}).get_data(as_text=True)
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user.id))
    token = page.split('<pre class="token" tabindex="0">')[1].split("</pre>")[0]
    assert token.startswith("rc_")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in client.get("/account/tokens").get_data(as_text=True)


def test_me_answers_the_token_owner_as_json(client, create_user, token_for):
    user = create_user(Role.QA_LEAD, name="Maria Santos")
    response = client.get("/api/v1/me", headers=token_for(user))
    assert response.status_code == 200
    assert response.json == {
        "id": user.id,
        "email": user.email,
        "name": "Maria Santos",
        "role": "qa_lead",
        "vendor_id": user.vendor_id,
        "vendor": user.vendor.name,
        "timezone": "UTC",
    }


def test_missing_or_bad_token_answers_401_json(client):
    for headers in [
        {},
        {"Authorization": "Bearer rc_not-a-real-token"},
        {"Authorization": "Basic abc"},
    ]:
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["message"] == "A valid bearer token is required."


def test_revoked_token_answers_401(client, auth, db, create_user, token_for):
    user = auth.login(create_user(Role.POM))
    headers = token_for(user)
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == user.id))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_token_of_a_deactivated_person_answers_401(client, db, create_user, token_for):
    user = create_user(Role.POM)
    headers = token_for(user)
    user.active = False
    db.session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_nobody_can_revoke_someone_elses_token(client, auth, db, create_user, token_for):
    owner = create_user(Role.POM)
    headers = token_for(owner)
    token_id = db.session.scalar(sa.select(ApiToken.id).where(ApiToken.user_id == owner.id))
    auth.login(create_user(Role.ADMIN))
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 404
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_cli_prints_a_working_token(client, runner, create_user):
    user = create_user(Role.STAKEHOLDER, email="sam@example.com")
    result = runner.invoke(args=["users", "token", "sam@example.com"])
    assert result.exit_code == 0
    token = result.output.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.json["id"] == user.id


def test_openapi_document_describes_the_api(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert "/api/v1/me" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "Me" in document["components"]["schemas"]
