"""Home page, organisation pages, and the admin pages that maintain them."""

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from rollcal import permissions, registry
from rollcal.accounts import links
from rollcal.accounts import services as accounts
from rollcal.accounts.forms import InviteForm, UserForm
from rollcal.accounts.models import Role, User
from rollcal.errors import NotFound, ValidationError, flash_refusal
from rollcal.extensions import db
from rollcal.forms import ConfirmForm, apply_errors, choices
from rollcal.inputs import int_arg, local_path, page_arg
from rollcal.org import queries, services
from rollcal.org.forms import LineOfBusinessForm, MarketForm, SiteForm, VendorForm
from rollcal.org.models import LineOfBusiness, Market, Site, Vendor
from rollcal.pagecache import cached_page
from rollcal.permissions import Action, requires
from rollcal.types import utcnow

bp = Blueprint("org", __name__)


def _page(statement: sa.Select):
    """A page of a listing, sized by ``ROLLCAL_PAGE_SIZE``."""
    return db.paginate(
        statement,
        page=page_arg(),
        per_page=current_app.config["ROLLCAL_PAGE_SIZE"],
        error_out=False,
    )


def _get_or_404(model, object_id: int, what: str):
    found = db.session.get(model, object_id)
    if found is None:
        raise NotFound(f"{what} was not found.")
    return found


# The home page shows this many vendors a page, and this many sites of each: the rest
# are a click away (the next page, the vendor's own page), so it stays one screen.
HOME_VENDORS = 12
HOME_SITES = 6


@bp.get("/")
@login_required
@cached_page
def home():
    """What each person needs first: their vendor for QA leads, the organisation otherwise.

    Bounded whatever the organisation's size: a page of vendors, each with its first
    sites and how many it has, read as plain rows in a fixed number of statements.
    """
    page = queries.home_vendors(current_user, page_arg(), HOME_VENDORS)
    vendors = page.items
    sites, site_counts = queries.first_sites([vendor.id for vendor in vendors], HOME_SITES)
    markets = []
    if not permissions.bound_to_vendor(current_user):
        markets = db.session.execute(
            sa.select(Market.code, Market.name, Market.region).order_by(Market.region, Market.code)
        ).all()
    return render_template(
        "org/home.html",
        panels=registry.home_panels(current_user),
        page=page,
        vendors=vendors,
        sites=sites,
        site_counts=site_counts,
        markets=markets,
    )


@bp.get("/vendors/<int:vendor_id>")
@login_required
def vendor(vendor_id: int):
    """A vendor with its sites and owners."""
    vendor = permissions.visible_vendor(current_user, vendor_id)
    qa_leads = db.session.scalars(
        sa.select(User).where(User.vendor_id == vendor.id).order_by(User.name)
    ).all()
    return render_template("org/vendor.html", vendor=vendor, qa_leads=qa_leads)


@bp.get("/sites/<int:site_id>")
@login_required
def site(site_id: int):
    """A site: its vendor, markets and lines of business."""
    site = permissions.visible_site(current_user, site_id)
    return render_template("org/site.html", site=site)


# Admin: markets ----------------------------------------------------------------------


@bp.get("/admin/markets")
@login_required
@requires(Action.MANAGE_ORGANISATION)
def markets():
    """Every market, by region."""
    page = _page(sa.select(Market).order_by(Market.region, Market.code))
    return render_template("org/markets.html", page=page)


@bp.route("/admin/markets/new", methods=["GET", "POST"], defaults={"market_id": None})
@bp.route("/admin/markets/<int:market_id>", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ORGANISATION)
def market_form(market_id: int | None):
    """Create or edit a market."""
    market = _get_or_404(Market, market_id, "Market") if market_id else None
    form = MarketForm(obj=market)
    if form.validate_on_submit():
        try:
            services.save_market(
                current_user,
                market=market,
                code=form.code.data,
                name=form.name.data,
                region=form.region.data,
                active=form.active.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Market {form.code.data.upper()} is saved.", "success")
            return redirect(url_for("org.markets"))
    return render_template(
        "org/form.html", form=form, what="market", existing=market, back=url_for("org.markets")
    )


# Admin: lines of business ------------------------------------------------------------


@bp.get("/admin/lines-of-business")
@login_required
@requires(Action.MANAGE_ORGANISATION)
def lines_of_business():
    """Every line of business."""
    page = _page(sa.select(LineOfBusiness).order_by(LineOfBusiness.name))
    return render_template("org/lines_of_business.html", page=page)


@bp.route("/admin/lines-of-business/new", methods=["GET", "POST"], defaults={"line_id": None})
@bp.route("/admin/lines-of-business/<int:line_id>", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ORGANISATION)
def line_of_business_form(line_id: int | None):
    """Create or edit a line of business."""
    line = _get_or_404(LineOfBusiness, line_id, "Line of business") if line_id else None
    form = LineOfBusinessForm(obj=line)
    if form.validate_on_submit():
        try:
            services.save_line_of_business(
                current_user, line=line, name=form.name.data, active=form.active.data
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Line of business “{form.name.data}” is saved.", "success")
            return redirect(url_for("org.lines_of_business"))
    return render_template(
        "org/form.html",
        form=form,
        what="line of business",
        existing=line,
        back=url_for("org.lines_of_business"),
    )


# Admin: vendors and sites ------------------------------------------------------------


@bp.get("/admin/vendors")
@login_required
@requires(Action.MANAGE_ORGANISATION)
def vendors():
    """Every vendor with its sites."""
    page = _page(
        sa.select(Vendor)
        .options(selectinload(Vendor.sites), selectinload(Vendor.owners))
        .order_by(Vendor.name)
    )
    return render_template("org/vendors.html", page=page)


def _pom_choices() -> list[tuple[int, str]]:
    poms = db.session.scalars(
        sa.select(User).where(permissions.holders_of(Action.OWN_VENDORS)).order_by(User.name)
    )
    return choices((pom.id, pom.name) for pom in poms)


@bp.route("/admin/vendors/new", methods=["GET", "POST"], defaults={"vendor_id": None})
@bp.route("/admin/vendors/<int:vendor_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ORGANISATION)
def vendor_form(vendor_id: int | None):
    """Create or edit a vendor and choose its owning POMs."""
    vendor = _get_or_404(Vendor, vendor_id, "Vendor") if vendor_id else None
    form = VendorForm(obj=vendor)
    form.owners.choices = _pom_choices()
    if vendor and not form.is_submitted():
        form.owners.data = [owner.id for owner in vendor.owners]
    if form.validate_on_submit():
        try:
            services.save_vendor(
                current_user,
                vendor=vendor,
                name=form.name.data,
                owner_ids=form.owners.data,
                active=form.active.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Vendor “{form.name.data}” is saved.", "success")
            return redirect(url_for("org.vendors"))
    return render_template(
        "org/form.html", form=form, what="vendor", existing=vendor, back=url_for("org.vendors")
    )


@bp.get("/admin/sites")
@login_required
@requires(Action.MANAGE_ORGANISATION)
def sites():
    """Every site with what it serves."""
    page = _page(
        permissions.visible_sites(current_user).options(
            selectinload(Site.markets),
            selectinload(Site.lines_of_business),
            selectinload(Site.vendor),
        )
    )
    return render_template("org/sites.html", page=page)


@bp.route("/admin/sites/new", methods=["GET", "POST"], defaults={"site_id": None})
@bp.route("/admin/sites/<int:site_id>/edit", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_ORGANISATION)
def site_form(site_id: int | None):
    """Create or edit a site."""
    site = _get_or_404(Site, site_id, "Site") if site_id else None
    form = SiteForm(obj=site)
    form.vendor.choices = choices(
        (v.id, v.name) for v in db.session.scalars(sa.select(Vendor).order_by(Vendor.name))
    )
    form.markets.choices = choices(
        (m.id, str(m)) for m in db.session.scalars(sa.select(Market).order_by(Market.code))
    )
    form.lines_of_business.choices = choices(
        (line.id, line.name)
        for line in db.session.scalars(sa.select(LineOfBusiness).order_by(LineOfBusiness.name))
    )
    if not form.is_submitted():
        if site:
            form.vendor.data = site.vendor_id
            form.markets.data = [m.id for m in site.markets]
            form.lines_of_business.data = [line.id for line in site.lines_of_business]
        elif int_arg("vendor"):
            form.vendor.data = int_arg("vendor")
    if form.validate_on_submit():
        try:
            services.save_site(
                current_user,
                site=site,
                vendor_id=form.vendor.data,
                name=form.name.data,
                city=form.city.data,
                market_ids=form.markets.data,
                line_ids=form.lines_of_business.data,
                active=form.active.data,
            )
        except ValidationError as error:
            apply_errors(form, error)
        else:
            flash(f"Site “{form.name.data}” is saved.", "success")
            return redirect(url_for("org.sites"))
    return render_template(
        "org/form.html", form=form, what="site", existing=site, back=url_for("org.sites")
    )


# Admin: people -----------------------------------------------------------------------


@bp.get("/admin/users")
@login_required
@requires(Action.MANAGE_USERS)
def users():
    """Everyone who can sign in, by role then name, and who has not accepted their
    invitation yet."""
    role = request.args.get("role")
    statement = sa.select(User).options(selectinload(User.vendor)).order_by(User.role, User.name)
    if role in {r.value for r in Role}:
        statement = statement.where(User.role == Role(role))
    page = _page(statement)
    return render_template(
        "org/users.html",
        page=page,
        role=role,
        roles=list(Role),
        invitations=links.pending_invitations([user.id for user in page.items]),
        now=utcnow(),
        resend_form=ConfirmForm(),
    )


@bp.route("/admin/users/new", methods=["GET", "POST"], defaults={"user_id": None})
@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@login_required
@requires(Action.MANAGE_USERS)
def user_form(user_id: int | None):
    """Invite a person, or change their role, vendor, time zone or access. Nobody's
    password passes through here: a new person chooses theirs through the invitation."""
    user = _get_or_404(User, user_id, "Person") if user_id else None
    form = UserForm(obj=user) if user else InviteForm()
    vendors = db.session.scalars(sa.select(Vendor).order_by(Vendor.name))
    form.vendor.choices = choices([(0, "— none —")] + [(v.id, v.name) for v in vendors])
    if user and not form.is_submitted():
        form.vendor.data = user.vendor_id or 0
        form.role.data = user.role.value
    if form.validate_on_submit():
        fields = dict(
            email=form.email.data,
            name=form.name.data,
            role=form.role.data,
            vendor_id=form.vendor.data or None,
            timezone=form.timezone.data,
        )
        try:
            if user is None:
                invited = links.invite_user(current_user, **fields)
            else:
                accounts.update_user(current_user, user, active=form.active.data, **fields)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            if user is None:
                flash(
                    f"{invited.name} is added. An invitation to choose a password is on its "
                    f"way to {invited.email}.",
                    "success",
                )
            else:
                flash(f"{form.name.data} is saved.", "success")
            return redirect(url_for("org.users"))
    return render_template(
        "org/user.html",
        form=form,
        existing=user,
        back=url_for("org.users"),
        invitation=links.pending_invitations([user.id]).get(user.id) if user else None,
        resend_form=ConfirmForm(),
        now=utcnow(),
    )


@bp.post("/admin/users/<int:user_id>/invitation")
@login_required
@requires(Action.MANAGE_USERS)
def resend_invitation(user_id: int):
    """Send a person who has not accepted yet a new invitation; the old link stops working."""
    user = _get_or_404(User, user_id, "Person")
    if ConfirmForm().validate_on_submit():
        try:
            links.resend_invitation(current_user, user)
        except ValidationError as error:
            flash_refusal(error)
        else:
            flash(
                f"A new invitation is on its way to {user.email}. The link of the earlier one "
                "no longer works.",
                "success",
            )
    return redirect(local_path(request.form.get("next")) or url_for("org.users"))
