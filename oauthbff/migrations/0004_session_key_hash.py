"""The session index keeps a keyed hash of each Django session key, and the key only encrypted."""

from django.db import migrations, models


def seal_session_keys(apps, schema_editor):
    from oauthbff.crypto import encrypt
    from oauthbff.models import session_key_hash

    OIDCSession = apps.get_model("oauthbff", "OIDCSession")
    for row in OIDCSession.objects.only("pk", "session_key").iterator():
        OIDCSession.objects.filter(pk=row.pk).update(
            session_key_hash=session_key_hash(row.session_key),
            sealed_session_key=encrypt(row.session_key),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oauthbff", "0003_session_dpop_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="oidcsession",
            name="session_key_hash",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="oidcsession",
            name="sealed_session_key",
            field=models.TextField(blank=True, editable=False),
        ),
        migrations.RunPython(seal_session_keys, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(model_name="oidcsession", name="session_key"),
        migrations.AlterField(
            model_name="oidcsession",
            name="session_key_hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
